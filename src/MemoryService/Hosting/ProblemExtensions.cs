using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;

namespace MemoryService.Hosting;

public static class ProblemExtensions
{
    /// <summary>RFC 9457 problem+json for every error the service writes, with a trace id.</summary>
    public static IHostApplicationBuilder AddProblems(this IHostApplicationBuilder builder)
    {
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
        {
            ctx.ProblemDetails.Instance ??= ctx.HttpContext.Request.Path;
            ctx.ProblemDetails.Extensions["trace_id"] = Activity.Current?.Id ?? ctx.HttpContext.TraceIdentifier;
        });
        builder.Services.AddSingleton<DatabaseOutage>();
        builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
        // Malformed JSON and wrong types must reach the handler as exceptions (not empty 400s) to be explained.
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        return builder;
    }

    public static IApplicationBuilder UseProblems(this IApplicationBuilder app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        return app;
    }
}

/// <summary>Thrown when a dependency (embedder, model) is unavailable; answered as 503 with the message.</summary>
public class DependencyUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The one place unexpected and framework errors become problem+json: bad request bodies are 400/413 with
/// the offending field, a database outage is 503, anything else a 500 without internals outside Development.
/// </summary>
public sealed class ProblemExceptionHandler(IProblemDetailsService problems, IHostEnvironment env,
    DatabaseOutage outage, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    /// <summary>Seconds a client is asked to wait after a 503: long enough for a restart or failover.</summary>
    public const int RetryAfterSeconds = 5;

    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        var databaseDown = DatabaseOutage.IsConnectionFailure(exception);
        var problem = databaseDown ? DatabaseUnavailable() : Describe(exception);
        if (databaseDown)
            outage.Failed(exception);
        else if (problem.Status >= 500 && problem.Status != StatusCodes.Status503ServiceUnavailable)
            logger.LogError(exception, "Unhandled exception");
        else if (problem.Status >= 500)
            logger.LogWarning("Dependency unavailable: {Message}", exception.Message);
        if (problem.Status == StatusCodes.Status503ServiceUnavailable)
            context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (problem.Status == StatusCodes.Status500InternalServerError && env.IsDevelopment())
            problem.Extensions["exception"] = exception.ToString();

        context.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = problem,
            Exception = exception,
        });
    }

    /// <summary>The problem an exception is answered with, wherever it surfaced (an endpoint or an MCP tool).</summary>
    internal static ProblemDetails ProblemFor(Exception exception) =>
        DatabaseOutage.IsConnectionFailure(exception) ? DatabaseUnavailable() : Describe(exception);

    private static ProblemDetails Describe(Exception exception) => exception switch
    {
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => new ProblemDetails
        {
            Status = StatusCodes.Status413PayloadTooLarge,
            Title = "Request body too large",
            Detail = "The request body exceeds the size limit.",
        },
        BadHttpRequestException bad when FindJsonError(bad) is { } json => new HttpValidationProblemDetails(
            new Dictionary<string, string[]> { [FieldOf(json)] = [JsonMessage(json)] })
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "Malformed request body",
            Detail = FieldOf(json) == "body"
                ? $"The request body is not valid JSON: {JsonMessage(json)}"
                : $"The field '{FieldOf(json)}' has a value of the wrong type or one that is not allowed, or is not a field of this request.",
        },
        BadHttpRequestException bad => new ProblemDetails
        {
            Status = bad.StatusCode,
            Title = "Bad request",
            Detail = bad.Message,
        },
        DependencyUnavailableException dep => new ProblemDetails
        {
            Status = StatusCodes.Status503ServiceUnavailable,
            Title = "Dependency unavailable",
            Detail = dep.Message,
        },
        OperationCanceledException => new ProblemDetails
        {
            Status = 499,
            Title = "Request cancelled",
        },
        _ => new ProblemDetails
        {
            Status = StatusCodes.Status500InternalServerError,
            Title = "Internal server error",
            Detail = "An unexpected error occurred. Quote the trace_id when reporting it.",
        },
    };

    private static ProblemDetails DatabaseUnavailable() => new()
    {
        Status = StatusCodes.Status503ServiceUnavailable,
        Title = "Database unavailable",
        Detail = "The database could not be reached; nothing was changed. Retry after the number of seconds in Retry-After.",
    };

    private static JsonException? FindJsonError(Exception ex)
    {
        for (var e = ex.InnerException; e is not null; e = e.InnerException)
            if (e is JsonException json) return json;
        return ex.Message.Contains("JSON", StringComparison.OrdinalIgnoreCase) ? new JsonException(ex.Message) : null;
    }

    /// <summary>A type or unknown-field error names its field; a syntax error is about the whole body.</summary>
    private static string FieldOf(JsonException json) =>
        (json.Message.Contains("could not be converted", StringComparison.Ordinal) || json.Message.Contains("could not be mapped", StringComparison.Ordinal))
        && json.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : "body";

    private static string JsonMessage(JsonException json)
    {
        if (FieldOf(json) != "body" && json.Message.Contains("could not be converted", StringComparison.Ordinal))
            return "Wrong type, or a value that is not allowed.";
        if (json.Message.Contains("could not be mapped", StringComparison.Ordinal))
            return "Not a field of this request.";
        var message = json.Message;
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).Replace("System.", "", StringComparison.Ordinal);
    }
}
