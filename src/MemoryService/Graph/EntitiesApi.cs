using System.ComponentModel;
using System.Text;
using MemoryService.Data;
using MemoryService.Hosting;
using MemoryService.Memories;
using MemoryService.Tenancy;
using MemoryService.Users;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace MemoryService.Graph;

/// <summary>The entity graph of a user (/v1/users/{user_id}/entities) and of the tenant's knowledge (/v1/knowledge/entities).</summary>
public static class EntitiesApi
{
    public sealed record EntityResponse(Guid Id, string Name, EntityType Type, IReadOnlyList<string> Aliases, bool IsSelf, int MemoryCount,
        DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    public sealed record RelationResponse(Guid Id, Guid SubjectId, string Subject, string Predicate, Guid ObjectId, string Object,
        Guid MemoryId, DateTimeOffset ValidFrom, DateTimeOffset? ValidTo, bool Current);

    public sealed record EntityDetailResponse(Guid Id, string Name, EntityType Type, IReadOnlyList<string> Aliases, bool IsSelf, int MemoryCount,
        DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, IReadOnlyList<RelationResponse> Relations, IReadOnlyList<MemoryResponse> Memories);

    public sealed record MergeRequest([property: Description("The entity that absorbs this one.")] Guid? Into);

    public sealed record ListQuery(
        [property: FromQuery(Name = "q"), Description("Only entities whose name or an alias contains this (any case).")] string? Q = null,
        [property: FromQuery(Name = "limit"), Description("1-200, default 50.")] int? Limit = null,
        [property: FromQuery(Name = "cursor"), Description("next_cursor of the previous page.")] string? Cursor = null);

    public const int MaxRelations = 200;
    public const int MaxMemories = 100;

    public static EntityResponse AsResponse(this EntityRow e) =>
        new(e.Id, e.Name, e.Type, e.Aliases, e.IsSelf, e.MemoryCount, e.CreatedAt, e.UpdatedAt);

    public static RelationResponse AsResponse(this RelationRow r) =>
        new(r.Id, r.SubjectId, r.SubjectName, r.Predicate, r.ObjectId, r.ObjectName, r.MemoryId, r.ValidFrom, r.ValidTo, r.ValidTo is null);

    public static IEndpointRouteBuilder MapGraph(this IEndpointRouteBuilder app)
    {
        var user = app.MapGroup("/v1/users/{user_id}/entities").WithTags("Entities")
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status404NotFound, StatusCodes.Status422UnprocessableEntity, StatusCodes.Status429TooManyRequests);
        user.MapGet("", ListForUser).WithName("ListEntities").WithSummary("List the people, places and things a user's memories mention, by name.");
        user.MapGet("/{entity_id:guid}", GetForUser).WithName("GetEntity")
            .WithSummary("One entity with its relations (current and past) and the memories that mention it.");
        user.MapPost("/{entity_id:guid}/merge", MergeForUser).WithName("MergeEntity")
            .WithSummary("Fold this entity into another (a wrong split): links, relations, name and aliases move to it.");

        var knowledge = app.MapGroup("/v1/knowledge/entities").WithTags("Entities")
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status404NotFound, StatusCodes.Status422UnprocessableEntity, StatusCodes.Status429TooManyRequests);
        knowledge.MapGet("", ListKnowledge).WithName("ListKnowledgeEntities").WithSummary("List the entities the tenant's knowledge mentions, by name.");
        knowledge.MapGet("/{entity_id:guid}", GetKnowledge).WithName("GetKnowledgeEntity")
            .WithSummary("One knowledge entity with its relations and the knowledge items that mention it.");
        knowledge.MapPost("/{entity_id:guid}/merge", MergeKnowledge).WithName("MergeKnowledgeEntity")
            .WithSummary("Fold this knowledge entity into another.");
        return app;
    }

    public static IHostApplicationBuilder AddGraph(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<GraphOptions>().BindConfiguration("Graph").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<IEntityExtractor, RuleBasedEntityExtractor>();
        builder.Services.AddSingleton<EntityStore>();
        builder.Services.AddSingleton<GraphIndex>();
        return builder;
    }

    // ---- routes: resolve the owner, then share one implementation ----

    private static Task<Results<Ok<ListResponse<EntityResponse>>, ValidationProblem>> ListForUser(
        [Description("The client's user id.")] string user_id, [AsParameters] ListQuery query, Caller caller, NpgsqlDataSource data, CancellationToken ct) =>
        AppUser.Validate(user_id) is { } error
            ? Task.FromResult<Results<Ok<ListResponse<EntityResponse>>, ValidationProblem>>(TypedResults.ValidationProblem(Problems.Field("user_id", error)))
            : List(new Owner(caller.TenantId, user_id), query, data, ct);

    private static Task<Results<Ok<ListResponse<EntityResponse>>, ValidationProblem>> ListKnowledge(
        [AsParameters] ListQuery query, Caller caller, NpgsqlDataSource data, CancellationToken ct) =>
        List(new Owner(caller.TenantId, null), query, data, ct);

    private static Task<Results<Ok<EntityDetailResponse>, ProblemHttpResult>> GetForUser(string user_id, Guid entity_id, Caller caller,
        NpgsqlDataSource data, MemoryDb db, CancellationToken ct) =>
        Get(new Owner(caller.TenantId, user_id), entity_id, data, db, ct);

    private static Task<Results<Ok<EntityDetailResponse>, ProblemHttpResult>> GetKnowledge(Guid entity_id, Caller caller,
        NpgsqlDataSource data, MemoryDb db, CancellationToken ct) =>
        Get(new Owner(caller.TenantId, null), entity_id, data, db, ct);

    private static Task<Results<Ok<EntityResponse>, ValidationProblem, ProblemHttpResult>> MergeForUser(string user_id, Guid entity_id,
        MergeRequest request, Caller caller, NpgsqlDataSource data, EntityStore store, CancellationToken ct) =>
        Merge(new Owner(caller.TenantId, user_id), entity_id, request, data, store, ct);

    private static Task<Results<Ok<EntityResponse>, ValidationProblem, ProblemHttpResult>> MergeKnowledge(Guid entity_id,
        MergeRequest request, Caller caller, NpgsqlDataSource data, EntityStore store, CancellationToken ct) =>
        Merge(new Owner(caller.TenantId, null), entity_id, request, data, store, ct);

    // ---- implementations ----

    private static async Task<Results<Ok<ListResponse<EntityResponse>>, ValidationProblem>> List(Owner owner, ListQuery q, NpgsqlDataSource data,
        CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var limit = q.Limit ?? 50;
        if (limit is < 1 or > 200) MemoryValidation.Add(errors, "limit", "Between 1 and 200.");
        if (q.Q is { Length: 0 or > 200 }) MemoryValidation.Add(errors, "q", "1-200 characters.");
        (string Norm, Guid Id)? after = null;
        if (q.Cursor is not null) { after = DecodeCursor(q.Cursor); if (after is null) MemoryValidation.Add(errors, "cursor", "Not a cursor this API issued."); }
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

        await using var c = await data.OpenConnectionAsync(ct);
        var page = await EntityStore.ListAsync(c, owner, q.Q, after, limit + 1, ct);
        var next = page.Count > limit ? EncodeCursor(page[limit - 1].Norm, page[limit - 1].Row.Id) : null;
        return TypedResults.Ok(new ListResponse<EntityResponse>(page.Take(limit).Select(p => p.Row.AsResponse()).ToList(), next));
    }

    private static async Task<Results<Ok<EntityDetailResponse>, ProblemHttpResult>> Get(Owner owner, Guid id, NpgsqlDataSource data,
        MemoryDb db, CancellationToken ct)
    {
        await using var c = await data.OpenConnectionAsync(ct);
        var e = await EntityStore.GetAsync(c, null, owner, id, ct);
        if (e is null) return TypedResults.Problem(Problems.NotFound("entity"));
        var relations = await EntityStore.RelationsAsync(c, owner, id, MaxRelations, ct);
        var ids = await EntityStore.MemoryIdsAsync(c, owner, id, MaxMemories, ct);
        var memories = await db.Set<Memory>().AsNoTracking()
            .Where(m => m.TenantId == owner.TenantId && m.UserId == owner.UserId && ids.Contains(m.Id))
            .OrderByDescending(m => m.CreatedAt).ThenByDescending(m => m.Id).ToListAsync(ct);
        return TypedResults.Ok(new EntityDetailResponse(e.Id, e.Name, e.Type, e.Aliases, e.IsSelf, e.MemoryCount, e.CreatedAt, e.UpdatedAt,
            relations.Select(r => r.AsResponse()).ToList(), memories.Select(m => m.AsResponse()).ToList()));
    }

    private static async Task<Results<Ok<EntityResponse>, ValidationProblem, ProblemHttpResult>> Merge(Owner owner, Guid id, MergeRequest request,
        NpgsqlDataSource data, EntityStore store, CancellationToken ct)
    {
        if (request.Into is not { } into) return TypedResults.ValidationProblem(Problems.Field("into", "Required: the id of the entity to merge into."));
        if (into == id) return TypedResults.Problem(Problems.Unprocessable("An entity cannot be merged into itself."));
        await using var c = await data.OpenConnectionAsync(ct);
        if (await store.MergeAsync(c, owner, id, into, ct) == EntityStore.MergeOutcome.NotFound)
            return TypedResults.Problem(Problems.NotFound("entity"));
        return TypedResults.Ok((await EntityStore.GetAsync(c, null, owner, into, ct))!.AsResponse());
    }

    private static string EncodeCursor(string norm, Guid id) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"e:{id:N}:{norm}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static (string Norm, Guid Id)? DecodeCursor(string cursor)
    {
        try
        {
            var b64 = cursor.Replace('-', '+').Replace('_', '/');
            b64 = b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '=');
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(b64));
            if (text.Length > 36 && text.StartsWith("e:", StringComparison.Ordinal) && text[34] == ':' && Guid.TryParseExact(text[2..34], "N", out var id))
                return (text[35..], id);
        }
        catch (FormatException) { }
        return null;
    }
}
