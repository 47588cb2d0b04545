using Microsoft.AspNetCore.Mvc;

namespace MemoryService.Hosting;

/// <summary>The problem bodies handlers return as TypedResults.</summary>
public static class Problems
{
    public static ProblemDetails NotFound(string what) => new()
    {
        Status = StatusCodes.Status404NotFound,
        Title = "Not found",
        Detail = $"No such {what}.",
    };

    public static ProblemDetails Conflict(string detail) => new()
    {
        Status = StatusCodes.Status409Conflict,
        Title = "Conflict",
        Detail = detail,
    };

    public static ProblemDetails PreconditionFailed(string detail) => new()
    {
        Status = StatusCodes.Status412PreconditionFailed,
        Title = "Precondition failed",
        Detail = detail,
    };

    public static ProblemDetails Unprocessable(string detail) => new()
    {
        Status = StatusCodes.Status422UnprocessableEntity,
        Title = "Unprocessable request",
        Detail = detail,
    };

    public static Dictionary<string, string[]> Field(string field, string message) => new() { [field] = [message] };
}

/// <summary>Bodies read as loose JSON objects (merge patches, OpenAI-compatible requests).</summary>
public static class JsonBodies
{
    /// <summary>The body as a JSON object, or the field errors that say why it is not one.</summary>
    public static async Task<(System.Text.Json.Nodes.JsonObject? Body, Dictionary<string, string[]>? Errors)> ReadObjectAsync(
        HttpRequest request, CancellationToken ct)
    {
        try
        {
            return await System.Text.Json.Nodes.JsonNode.ParseAsync(request.Body, cancellationToken: ct) is System.Text.Json.Nodes.JsonObject body
                ? (body, null)
                : (null, Problems.Field("body", "Send a JSON object."));
        }
        catch (System.Text.Json.JsonException ex)
        {
            return (null, Problems.Field("body", "Not valid JSON: " + ex.Message.Split(" Path:")[0]));
        }
    }
}

/// <summary>Every list endpoint answers with this shape.</summary>
public sealed record ListResponse<T>(IReadOnlyList<T> Items, string? NextCursor);
