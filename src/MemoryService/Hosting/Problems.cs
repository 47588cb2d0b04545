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

/// <summary>Every list endpoint answers with this shape.</summary>
public sealed record ListResponse<T>(IReadOnlyList<T> Items, string? NextCursor);
