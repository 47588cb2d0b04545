using System.ComponentModel;
using MemoryService.Hosting;
using MemoryService.Memories;
using MemoryService.Tenancy;
using MemoryService.Users;
using Microsoft.AspNetCore.Http.HttpResults;

namespace MemoryService.Learning;

/// <summary>GET /v1/users/{user_id}/learning: the user's learning jobs that are waiting, running or failed.</summary>
public static class LearningJobsApi
{
    public sealed record LearningJobResponse(
        Guid Id,
        [property: Description("pending, running or failed. A job that has been learned is gone from the list.")] string Status,
        [property: Description("Attempts started so far.")] int Attempts,
        DateTimeOffset CreatedAt,
        DateTimeOffset UpdatedAt,
        [property: Description("When a pending job is next tried.")] DateTimeOffset? NextAttemptAt,
        [property: Description("Why the last attempt failed.")] string? LastError,
        int MessageCount);

    public static RouteGroupBuilder MapLearningJobs(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/users/{user_id}/learning").WithTags("Learning")
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status429TooManyRequests);
        group.MapGet("", List).WithName("ListLearningJobs")
            .WithSummary("The user's learning jobs not yet learned: pending, running, or failed with the last error.");
        return group;
    }

    private static async Task<Results<Ok<ListResponse<LearningJobResponse>>, ValidationProblem>> List(
        [Description("The client's user id.")] string user_id, Caller caller, LearningJobs jobs,
        [Description("pending, running or failed; default all.")] string? status,
        [Description("1-100, default 50.")] int? limit, [Description("next_cursor of the previous page.")] string? cursor, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (AppUser.Validate(user_id) is { } userError) MemoryValidation.Add(errors, "user_id", userError);
        if (status is not (null or LearningJobs.Pending or LearningJobs.Running or LearningJobs.Failed))
            MemoryValidation.Add(errors, "status", "One of pending, running, failed.");
        var take = limit ?? 50;
        if (take is < 1 or > 100) MemoryValidation.Add(errors, "limit", "Between 1 and 100.");
        Guid? after = null;
        if (cursor is not null)
        {
            if (Guid.TryParseExact(cursor, "N", out var id)) after = id;
            else MemoryValidation.Add(errors, "cursor", "Not a cursor this API issued.");
        }
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

        var page = await jobs.ListAsync(caller.TenantId, user_id, status, after, take + 1, ct);
        var next = page.Count > take ? page[take - 1].Id.ToString("N") : null;
        return TypedResults.Ok(new ListResponse<LearningJobResponse>(page.Take(take).Select(j => new LearningJobResponse(j.Id, j.Status,
            j.Attempts, j.CreatedAt, j.UpdatedAt, j.NextAttemptAt, j.LastError, j.MessageCount)).ToList(), next));
    }
}
