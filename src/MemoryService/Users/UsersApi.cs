using System.ComponentModel;
using MemoryService.Data;
using MemoryService.Graph;
using MemoryService.Hosting;
using MemoryService.Memories;
using MemoryService.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace MemoryService.Users;

public static class UsersApi
{
    public sealed record UserResponse(string UserId, DateTimeOffset CreatedAt, int MemoryCount, int CurrentMemoryCount);
    public sealed record ResetResponse(string UserId, int Deleted);
    public sealed record ExportResponse(string UserId, DateTimeOffset CreatedAt, DateTimeOffset ExportedAt,
        IReadOnlyList<MemoryResponse> Memories, IReadOnlyList<HistoryResponse> History,
        IReadOnlyList<EntitiesApi.EntityResponse>? Entities = null, IReadOnlyList<EntitiesApi.RelationResponse>? Relations = null);

    public static IEndpointRouteBuilder MapUsers(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/users").WithTags("Users")
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status404NotFound, StatusCodes.Status429TooManyRequests);
        group.MapGet("", List).WithName("ListUsers").WithSummary("List the tenant's users with their memory counts.");
        group.MapDelete("/{user_id}/memories", Reset).WithName("ResetUserMemories")
            .WithSummary("Reset the profile: every memory of the user is deleted at once; the user is kept.");
        group.MapDelete("/{user_id}", Erase).WithName("EraseUser")
            .WithSummary("Erase the user completely: memories, history and the user itself.");
        group.MapGet("/{user_id}/export", Export).WithName("ExportUser")
            .WithSummary("Everything stored about the user (memories including superseded and expired ones, history) as one document.");
        return app;
    }

    private static async Task<Results<Ok<ListResponse<UserResponse>>, ValidationProblem>> List(Caller caller, MemoryDb db,
        [Description("1-500, default 100.")] int? limit, [Description("next_cursor of the previous page.")] string? cursor,
        [Description("Only users whose id contains this text, ignoring case; 1-128 characters.")] string? q, CancellationToken ct)
    {
        var take = limit ?? 100;
        if (take is < 1 or > 500) return TypedResults.ValidationProblem(Problems.Field("limit", "Between 1 and 500."));
        if (q is not null && (q.Length is 0 or > 128 || q.Any(char.IsControl)))
            return TypedResults.ValidationProblem(Problems.Field("q", "1-128 characters without control characters."));
        string? after = null;
        if (cursor is not null)
        {
            after = DecodeUserCursor(cursor);
            if (after is null) return TypedResults.ValidationProblem(Problems.Field("cursor", "Not a cursor this API issued."));
        }
        var users = db.Set<AppUser>().AsNoTracking().Where(u => u.TenantId == caller.TenantId);
        if (after is not null) users = users.Where(u => string.Compare(u.Id, after) > 0);
        if (q is not null)
        {
            var pattern = "%" + q.Replace(@"\", @"\\").Replace("%", @"\%").Replace("_", @"\_") + "%";
            users = users.Where(u => EF.Functions.ILike(u.Id, pattern, @"\"));
        }
        var now = DateTimeOffset.UtcNow;
        var page = await users.OrderBy(u => u.Id).Take(take + 1)
            .Select(u => new UserResponse(u.Id, u.CreatedAt,
                db.Set<Memory>().Count(m => m.TenantId == u.TenantId && m.UserId == u.Id),
                db.Set<Memory>().Count(m => m.TenantId == u.TenantId && m.UserId == u.Id && m.ValidTo == null && m.Status == MemoryStatus.Active && (m.ExpiresAt == null || m.ExpiresAt > now))))
            .ToListAsync(ct);
        var next = page.Count > take ? EncodeUserCursor(page[take - 1].UserId) : null;
        return TypedResults.Ok(new ListResponse<UserResponse>(page.Take(take).ToList(), next));
    }

    private static async Task<Results<Ok<ResetResponse>, ProblemHttpResult>> Reset(string user_id, Caller caller,
        MemoryStore store, CancellationToken ct)
    {
        var deleted = await store.ResetAsync(caller.TenantId, user_id, caller.KeyId.ToString(), ct);
        return deleted is null ? TypedResults.Problem(Problems.NotFound("user")) : TypedResults.Ok(new ResetResponse(user_id, deleted.Value));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Erase(string user_id, Caller caller, MemoryStore store,
        CancellationToken ct) =>
        await store.EraseAsync(caller.TenantId, user_id, ct) ? TypedResults.NoContent() : TypedResults.Problem(Problems.NotFound("user"));

    private static async Task<Results<Ok<ExportResponse>, ProblemHttpResult>> Export(string user_id, Caller caller, MemoryDb db,
        Npgsql.NpgsqlDataSource data, CancellationToken ct)
    {
        var user = await db.Set<AppUser>().AsNoTracking().FirstOrDefaultAsync(u => u.TenantId == caller.TenantId && u.Id == user_id, ct);
        if (user is null) return TypedResults.Problem(Problems.NotFound("user"));
        var memories = await db.Set<Memory>().AsNoTracking().Where(m => m.TenantId == caller.TenantId && m.UserId == user_id)
            .OrderBy(m => m.CreatedAt).ThenBy(m => m.Id).ToListAsync(ct);
        var history = await db.Set<MemoryHistory>().AsNoTracking().Where(h => h.TenantId == caller.TenantId && h.UserId == user_id)
            .OrderBy(h => h.Id).ToListAsync(ct);
        var (entities, relations) = await ExportGraphAsync(data, new Owner(caller.TenantId, user_id), ct);
        return TypedResults.Ok(new ExportResponse(user.Id, user.CreatedAt, DateTimeOffset.UtcNow,
            memories.Select(m => m.AsResponse()).ToList(), history.Select(h => h.AsResponse()).ToList(), entities, relations));
    }

    private static async Task<(List<EntitiesApi.EntityResponse>, List<EntitiesApi.RelationResponse>)> ExportGraphAsync(
        Npgsql.NpgsqlDataSource data, Owner owner, CancellationToken ct)
    {
        await using var c = await data.OpenConnectionAsync(ct);
        var entities = await EntityStore.ListAsync(c, owner, null, null, int.MaxValue, ct);
        var relations = await EntityStore.RelationsAsync(c, owner, null, int.MaxValue, ct);
        return (entities.Select(e => e.Row.AsResponse()).ToList(), relations.Select(r => r.AsResponse()).ToList());
    }

    private static string EncodeUserCursor(string userId) =>
        Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("u:" + userId)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string? DecodeUserCursor(string cursor)
    {
        try
        {
            var b64 = cursor.Replace('-', '+').Replace('_', '/');
            b64 = b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '=');
            var text = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(b64));
            return text.StartsWith("u:", StringComparison.Ordinal) && text.Length > 2 ? text[2..] : null;
        }
        catch (FormatException) { return null; }
    }
}
