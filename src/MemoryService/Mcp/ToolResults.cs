using System.Diagnostics;
using System.Text.Json;
using MemoryService.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using ModelContextProtocol.Protocol;

namespace MemoryService.Mcp;

/// <summary>
/// Turns what a REST handler returns into a tool result: a value becomes its JSON as text plus structured content;
/// a problem (validation, 404, 412, 422, 429, 503...) becomes a tool error whose text is the problem+json body REST sends.
/// </summary>
internal static class ToolResults
{
    /// <summary>Runs a handler; an exception is answered as the REST exception handler would answer it, as a tool error.</summary>
    public static async Task<CallToolResult> RunAsync(IServiceProvider services, Func<Task<IResult>> handler, Func<object>? noContent = null)
    {
        try
        {
            return From(await handler(), services, noContent);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            var problem = ProblemExceptionHandler.ProblemFor(ex);
            if (DatabaseOutage.IsConnectionFailure(ex)) services.GetRequiredService<DatabaseOutage>().Failed(ex);
            else if (problem.Status is >= 500 and not StatusCodes.Status503ServiceUnavailable)
                services.GetRequiredService<ILogger<McpServerLog>>().LogError(ex, "Unhandled exception in an MCP tool");
            return Problem(problem, services);
        }
    }

    public static CallToolResult From(IResult result, IServiceProvider services, Func<object>? noContent = null) => result switch
    {
        INestedHttpResult nested => From(nested.Result, services, noContent),
        ProblemHttpResult problem => Problem(problem.ProblemDetails, services),
        ValidationProblem invalid => Problem(invalid.ProblemDetails, services),
        IValueHttpResult { Value: { } value } => Ok(value),
        NoContent when noContent is not null => Ok(noContent()),
        _ => throw new InvalidOperationException($"No tool result for a {result.GetType().Name}."),
    };

    public static CallToolResult Ok(object value)
    {
        var json = JsonSerializer.SerializeToElement(value, value.GetType(), McpApi.Json);
        return new CallToolResult { Content = [new TextContentBlock { Text = json.GetRawText() }], StructuredContent = json };
    }

    public static CallToolResult Problem(ProblemDetails problem, IServiceProvider services)
    {
        problem.Extensions["trace_id"] = Activity.Current?.Id
            ?? services.GetService<IHttpContextAccessor>()?.HttpContext?.TraceIdentifier;
        return new CallToolResult
        {
            IsError = true,
            Content = [new TextContentBlock { Text = JsonSerializer.Serialize(problem, problem.GetType(), McpApi.Json) }],
        };
    }
}

/// <summary>Log category of the MCP server's own messages.</summary>
internal sealed class McpServerLog;
