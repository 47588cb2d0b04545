using System.ComponentModel;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MemoryService.Hosting;
using MemoryService.Tenancy;
using MemoryService.Users;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace MemoryService.Memories;

/// <summary>CRUD for a user's memories (/v1/users/{user_id}/memories) and the tenant's knowledge (/v1/knowledge).</summary>
public static class MemoriesApi
{
    public sealed record BatchResponse(IReadOnlyList<MemoryResponse> Items);

    public static IEndpointRouteBuilder MapMemories(this IEndpointRouteBuilder app)
    {
        var user = app.MapGroup("/v1/users/{user_id}/memories").WithTags("Memories")
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status404NotFound, StatusCodes.Status412PreconditionFailed, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status422UnprocessableEntity, StatusCodes.Status429TooManyRequests, StatusCodes.Status503ServiceUnavailable);
        user.MapPost("", CreateForUser).DocumentsIdempotencyKey().DocumentsETag().WithName("CreateMemory").WithSummary("Store one memory for a user.");
        user.MapPost("/batch", BatchForUser).DocumentsIdempotencyKey().WithName("CreateMemoriesBatch")
            .WithSummary("Store up to 1,000 memories for a user, all or nothing.");
        user.MapGet("", ListForUser).WithName("ListMemories").WithSummary("List a user's memories, newest first.");
        user.MapGet("/{id:guid}", GetForUser).DocumentsETag().WithName("GetMemory").WithSummary("Get one memory; the ETag header carries its version.");
        user.MapPatch("/{id:guid}", PatchForUser).DocumentsIfMatch().DocumentsETag().WithName("UpdateMemory").Accepts<PatchMemoryRequest>("application/json", "application/merge-patch+json")
            .WithSummary("Change content, importance, tags, metadata, key, expires_at, pinned or status (JSON merge patch; If-Match optional).");
        user.MapDelete("/{id:guid}", DeleteForUser).DocumentsIfMatch().WithName("DeleteMemory").WithSummary("Delete one memory (If-Match optional).");
        user.MapGet("/{id:guid}/history", HistoryForUser).WithName("GetMemoryHistory").WithSummary("Every change to one memory, oldest first.");

        var knowledge = app.MapGroup("/v1/knowledge").WithTags("Knowledge")
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status404NotFound, StatusCodes.Status412PreconditionFailed, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status422UnprocessableEntity, StatusCodes.Status429TooManyRequests, StatusCodes.Status503ServiceUnavailable);
        knowledge.MapPost("", CreateKnowledge).DocumentsIdempotencyKey().DocumentsETag().WithName("CreateKnowledge").WithSummary("Store one item of app-wide knowledge.");
        knowledge.MapPost("/batch", BatchKnowledge).DocumentsIdempotencyKey().WithName("CreateKnowledgeBatch").WithSummary("Store up to 1,000 knowledge items, all or nothing.");
        knowledge.MapGet("", ListKnowledge).WithName("ListKnowledge").WithSummary("List the tenant's knowledge, newest first.");
        knowledge.MapGet("/{id:guid}", GetKnowledge).DocumentsETag().WithName("GetKnowledge").WithSummary("Get one knowledge item.");
        knowledge.MapPatch("/{id:guid}", PatchKnowledge).DocumentsIfMatch().DocumentsETag().WithName("UpdateKnowledge").Accepts<PatchMemoryRequest>("application/json", "application/merge-patch+json")
            .WithSummary("Change a knowledge item (JSON merge patch; If-Match optional).");
        knowledge.MapDelete("/{id:guid}", DeleteKnowledge).DocumentsIfMatch().WithName("DeleteKnowledge").WithSummary("Delete a knowledge item.");
        knowledge.MapGet("/{id:guid}/history", HistoryKnowledge).WithName("GetKnowledgeHistory").WithSummary("Every change to one knowledge item.");
        return app;
    }

    // ---- thin route wrappers: resolve the owner, then share one implementation ----

    private static Task<Results<Created<MemoryResponse>, ValidationProblem, ProblemHttpResult>> CreateForUser(
        [Description("The client's user id.")] string user_id, CreateMemoryRequest request, Caller caller, MemoryStore store,
        IOptions<MemoriesOptions> options, HttpContext http, CancellationToken ct) =>
        UserOwner(caller, user_id) is { } owner
            ? Create(owner, request, caller, store, options.Value, http, ct)
            : Task.FromResult<Results<Created<MemoryResponse>, ValidationProblem, ProblemHttpResult>>(InvalidUser());

    private static Task<Results<Created<MemoryResponse>, ValidationProblem, ProblemHttpResult>> CreateKnowledge(
        CreateMemoryRequest request, Caller caller, MemoryStore store, IOptions<MemoriesOptions> options, HttpContext http, CancellationToken ct) =>
        Create(new Owner(caller.TenantId, null), request, caller, store, options.Value, http, ct);

    private static Task<Results<Created<BatchResponse>, ValidationProblem, ProblemHttpResult>> BatchForUser(
        string user_id, BatchCreateRequest request, Caller caller, MemoryStore store, IOptions<MemoriesOptions> options,
        HttpContext http, CancellationToken ct) =>
        UserOwner(caller, user_id) is { } owner
            ? Batch(owner, request, caller, store, options.Value, http, ct)
            : Task.FromResult<Results<Created<BatchResponse>, ValidationProblem, ProblemHttpResult>>(InvalidUser());

    private static Task<Results<Created<BatchResponse>, ValidationProblem, ProblemHttpResult>> BatchKnowledge(
        BatchCreateRequest request, Caller caller, MemoryStore store, IOptions<MemoriesOptions> options, HttpContext http, CancellationToken ct) =>
        Batch(new Owner(caller.TenantId, null), request, caller, store, options.Value, http, ct);

    private static Task<Results<Ok<ListResponse<MemoryResponse>>, ValidationProblem>> ListForUser(string user_id, [AsParameters] ListQuery query,
        Caller caller, MemoryStore store, CancellationToken ct) =>
        UserOwner(caller, user_id) is { } owner
            ? List(owner, query, store, ct)
            : Task.FromResult<Results<Ok<ListResponse<MemoryResponse>>, ValidationProblem>>(InvalidUser());

    private static Task<Results<Ok<ListResponse<MemoryResponse>>, ValidationProblem>> ListKnowledge([AsParameters] ListQuery query,
        Caller caller, MemoryStore store, CancellationToken ct) =>
        List(new Owner(caller.TenantId, null), query, store, ct);

    private static Task<Results<Ok<MemoryResponse>, ProblemHttpResult>> GetForUser(string user_id, Guid id, Caller caller,
        MemoryStore store, HttpContext http, CancellationToken ct) =>
        Get(new Owner(caller.TenantId, user_id), id, store, http, ct);

    private static Task<Results<Ok<MemoryResponse>, ProblemHttpResult>> GetKnowledge(Guid id, Caller caller,
        MemoryStore store, HttpContext http, CancellationToken ct) =>
        Get(new Owner(caller.TenantId, null), id, store, http, ct);

    private static Task<Results<Ok<MemoryResponse>, ValidationProblem, ProblemHttpResult>> PatchForUser(
        string user_id, Guid id, Caller caller, MemoryStore store, IOptions<MemoriesOptions> options, HttpContext http, CancellationToken ct) =>
        Patch(new Owner(caller.TenantId, user_id), id, caller, store, options.Value, http, ct);

    private static Task<Results<Ok<MemoryResponse>, ValidationProblem, ProblemHttpResult>> PatchKnowledge(
        Guid id, Caller caller, MemoryStore store, IOptions<MemoriesOptions> options, HttpContext http, CancellationToken ct) =>
        Patch(new Owner(caller.TenantId, null), id, caller, store, options.Value, http, ct);

    private static Task<Results<NoContent, ProblemHttpResult>> DeleteForUser(string user_id, Guid id,
        Caller caller, MemoryStore store, HttpContext http, CancellationToken ct) =>
        Delete(new Owner(caller.TenantId, user_id), id, caller, store, http, ct);

    private static Task<Results<NoContent, ProblemHttpResult>> DeleteKnowledge(Guid id,
        Caller caller, MemoryStore store, HttpContext http, CancellationToken ct) =>
        Delete(new Owner(caller.TenantId, null), id, caller, store, http, ct);

    private static Task<Results<Ok<ListResponse<HistoryResponse>>, ProblemHttpResult>> HistoryForUser(string user_id, Guid id,
        Caller caller, MemoryStore store, CancellationToken ct) =>
        History(new Owner(caller.TenantId, user_id), id, store, ct);

    private static Task<Results<Ok<ListResponse<HistoryResponse>>, ProblemHttpResult>> HistoryKnowledge(Guid id,
        Caller caller, MemoryStore store, CancellationToken ct) =>
        History(new Owner(caller.TenantId, null), id, store, ct);

    // ---- implementations ----

    /// <summary>Stores one memory. <paramref name="http"/> (REST) brings Idempotency-Key and gets the ETag; MCP passes null.</summary>
    internal static async Task<Results<Created<MemoryResponse>, ValidationProblem, ProblemHttpResult>> Create(
        Owner owner, CreateMemoryRequest request, Caller caller, MemoryStore store, MemoriesOptions options, HttpContext? http, CancellationToken ct)
    {
        var errors = MemoryValidation.Create(request, owner.IsKnowledge, options);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        var (written, replay, conflict) = await WriteIdempotently(owner, [request], caller, store, http,
            ms => ms[0].AsResponse(), ct);
        if (conflict is not null) return TypedResults.Problem(conflict);
        var response = replay is not null ? Deserialize<MemoryResponse>(replay.ResponseBody, http!) : written![0].AsResponse();
        http?.Response.Headers.ETag = $"\"{response.Version}\"";
        return TypedResults.Created(LocationOf(owner, response.Id), response);
    }

    private static async Task<Results<Created<BatchResponse>, ValidationProblem, ProblemHttpResult>> Batch(
        Owner owner, BatchCreateRequest request, Caller caller, MemoryStore store, MemoriesOptions options, HttpContext http, CancellationToken ct)
    {
        var items = request.Items;
        if (items is null || items.Count == 0) return TypedResults.ValidationProblem(Problems.Field("items", "Give 1 or more items."));
        if (items.Count > options.MaxBatchItems)
            return TypedResults.ValidationProblem(Problems.Field("items", $"At most {options.MaxBatchItems} items per batch."));
        var errors = new Dictionary<string, string[]>();
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i] is null) { MemoryValidation.Add(errors, $"items[{i}]", "Must be an object."); continue; }
            foreach (var (field, messages) in MemoryValidation.Create(items[i], owner.IsKnowledge, options, $"items[{i}]."))
                errors[field] = messages;
        }
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors, detail: $"{errors.Count} invalid field(s); nothing was written.");
        var (written, replay, conflict) = await WriteIdempotently(owner, items, caller, store, http,
            ms => new BatchResponse(ms.Select(m => m.AsResponse()).ToList()), ct);
        if (conflict is not null) return TypedResults.Problem(conflict);
        var response = replay is not null
            ? Deserialize<BatchResponse>(replay.ResponseBody, http)
            : new BatchResponse(written!.Select(m => m.AsResponse()).ToList());
        return TypedResults.Created((string?)null, response);
    }

    /// <summary>
    /// Idempotency-Key: the first response is stored in the same transaction as the write; a retry with
    /// the same key and body gets it back and writes nothing; the same key with another body is a 422.
    /// </summary>
    private static async Task<(IReadOnlyList<Memory>? Written, IdempotencyRecord? Replay, ProblemDetails? Conflict)> WriteIdempotently<T>(
        Owner owner, IReadOnlyList<CreateMemoryRequest> items, Caller caller, MemoryStore store, HttpContext? http,
        Func<IReadOnlyList<Memory>, T> respond, CancellationToken ct)
    {
        var key = http?.Request.Headers["Idempotency-Key"].ToString() ?? "";
        if (http is null || key.Length == 0) return (await store.CreateAsync(owner, items, caller.KeyId.ToString(), null, ct), null, null);
        if (key.Length > 255) return (null, null, Problems.Unprocessable("Idempotency-Key is at most 255 characters."));

        var json = JsonOptions(http);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(http.Request.Path + "\n" + JsonSerializer.Serialize(items, json)));
        var prior = await store.FindIdempotencyAsync(owner.TenantId, key, ct);
        if (prior is null)
        {
            try
            {
                var written = await store.CreateAsync(owner, items, caller.KeyId.ToString(),
                    new IdempotentResponse(key, hash, StatusCodes.Status201Created, ms => JsonSerializer.Serialize(respond(ms), json), null), ct);
                return (written, null, null);
            }
            catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
            {
                // A concurrent retry with the same key committed first: answer with its response.
                store.Db.ChangeTracker.Clear();
                prior = await store.FindIdempotencyAsync(owner.TenantId, key, ct);
            }
        }
        if (prior is null || !CryptographicOperations.FixedTimeEquals(prior.RequestHash, hash))
            return (null, null, Problems.Unprocessable("This Idempotency-Key was used with a different request; use a new key."));
        http.Response.Headers["Idempotent-Replayed"] = "true";
        return (null, prior, null);
    }

    public sealed record ListQuery(
        [property: FromQuery(Name = "kind"), Description("preference, fact, event or knowledge")] string? Kind = null,
        [property: FromQuery(Name = "key"), Description("Only memories with this key.")] string? Key = null,
        [property: FromQuery(Name = "tag"), Description("Only memories carrying this tag.")] string? Tag = null,
        [property: FromQuery(Name = "source"), Description("user, inferred or import")] string? Source = null,
        [property: FromQuery(Name = "created_after")] DateTimeOffset? CreatedAfter = null,
        [property: FromQuery(Name = "created_before")] DateTimeOffset? CreatedBefore = null,
        [property: FromQuery(Name = "observed_after")] DateTimeOffset? ObservedAfter = null,
        [property: FromQuery(Name = "observed_before")] DateTimeOffset? ObservedBefore = null,
        [property: FromQuery(Name = "include_superseded"), Description("Include memories replaced by newer ones.")] bool? IncludeSuperseded = null,
        [property: FromQuery(Name = "include_expired"), Description("Include memories past expires_at.")] bool? IncludeExpired = null,
        [property: FromQuery(Name = "include_archived"), Description("Include archived memories (kept, never served).")] bool? IncludeArchived = null,
        [property: FromQuery(Name = "limit"), Description("1-200, default 50.")] int? Limit = null,
        [property: FromQuery(Name = "cursor"), Description("next_cursor of the previous page.")] string? Cursor = null);

    internal static async Task<Results<Ok<ListResponse<MemoryResponse>>, ValidationProblem>> List(Owner owner, ListQuery q,
        MemoryStore store, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        MemoryKind? kind = null;
        MemorySource? source = null;
        if (q.Kind is not null) { if (Enum.TryParse<MemoryKind>(q.Kind, true, out var k) && !int.TryParse(q.Kind, out _)) kind = k; else MemoryValidation.Add(errors, "kind", "One of preference, fact, event, knowledge."); }
        if (q.Source is not null) { if (Enum.TryParse<MemorySource>(q.Source, true, out var s) && !int.TryParse(q.Source, out _)) source = s; else MemoryValidation.Add(errors, "source", "One of user, inferred, import."); }
        var limit = q.Limit ?? 50;
        if (limit is < 1 or > 200) MemoryValidation.Add(errors, "limit", "Between 1 and 200.");
        (DateTimeOffset At, Guid Id)? cursor = null;
        if (q.Cursor is not null) { cursor = Cursors.Decode(q.Cursor); if (cursor is null) MemoryValidation.Add(errors, "cursor", "Not a cursor this API issued."); }
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

        var now = DateTimeOffset.UtcNow;
        var query = store.Owned(owner).AsNoTracking();
        if (kind is not null) query = query.Where(m => m.Kind == kind);
        if (source is not null) query = query.Where(m => m.Source == source);
        if (q.Key is not null) query = query.Where(m => m.Key == q.Key);
        if (q.Tag is not null) query = query.Where(m => m.Tags.Contains(q.Tag));
        if (q.CreatedAfter is { } ca) query = query.Where(m => m.CreatedAt >= ca);
        if (q.CreatedBefore is { } cb) query = query.Where(m => m.CreatedAt < cb);
        if (q.ObservedAfter is { } oa) query = query.Where(m => m.ObservedAt >= oa);
        if (q.ObservedBefore is { } ob) query = query.Where(m => m.ObservedAt < ob);
        if (q.IncludeSuperseded != true) query = query.Where(m => m.ValidTo == null);
        if (q.IncludeExpired != true) query = query.Where(m => m.ExpiresAt == null || m.ExpiresAt > now);
        if (q.IncludeArchived != true) query = query.Where(m => m.Status == MemoryStatus.Active);
        if (cursor is { } c)
            query = query.Where(m => EF.Functions.LessThan(ValueTuple.Create(m.CreatedAt, m.Id), ValueTuple.Create(c.At, c.Id)));
        var page = await query.OrderByDescending(m => m.CreatedAt).ThenByDescending(m => m.Id).Take(limit + 1).ToListAsync(ct);
        var next = page.Count > limit ? Cursors.Encode(page[limit - 1].CreatedAt, page[limit - 1].Id) : null;
        return TypedResults.Ok(new ListResponse<MemoryResponse>(page.Take(limit).Select(m => m.AsResponse()).ToList(), next));
    }

    private static async Task<Results<Ok<MemoryResponse>, ProblemHttpResult>> Get(Owner owner, Guid id, MemoryStore store,
        HttpContext http, CancellationToken ct)
    {
        var memory = await store.GetAsync(owner, id, ct);
        if (memory is null) return TypedResults.Problem(Problems.NotFound("memory"));
        http.Response.Headers.ETag = memory.ETag;
        return TypedResults.Ok(memory.AsResponse());
    }

    private static async Task<Results<Ok<MemoryResponse>, ValidationProblem, ProblemHttpResult>> Patch(
        Owner owner, Guid id, Caller caller, MemoryStore store, MemoriesOptions options, HttpContext http, CancellationToken ct)
    {
        var ifMatch = ParseIfMatch(http);
        if (ifMatch is { Valid: false }) return Stale();
        var (patch, bodyErrors) = await JsonBodies.ReadObjectAsync(http.Request, ct);
        if (patch is null) return TypedResults.ValidationProblem(bodyErrors!);
        return await ApplyPatch(owner, id, patch, ifMatch?.Version, caller, store, options, m => http.Response.Headers.ETag = m.ETag, ct);
    }

    /// <summary>Validates and applies a merge patch (REST and MCP); <paramref name="written"/> sees the changed memory.</summary>
    internal static async Task<Results<Ok<MemoryResponse>, ValidationProblem, ProblemHttpResult>> ApplyPatch(
        Owner owner, Guid id, JsonObject patch, int? ifMatch, Caller caller, MemoryStore store, MemoriesOptions options,
        Action<Memory>? written, CancellationToken ct)
    {
        var errors = ValidatePatch(patch, options);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

        var (outcome, memory) = await store.PatchAsync(owner, id, patch, ifMatch, caller.KeyId.ToString(), ct);
        switch (outcome)
        {
            case MemoryStore.WriteOutcome.NotFound: return TypedResults.Problem(Problems.NotFound("memory"));
            case MemoryStore.WriteOutcome.Stale: return Stale();
        }
        written?.Invoke(memory!);
        return TypedResults.Ok(memory!.AsResponse());
    }

    private static Dictionary<string, string[]> ValidatePatch(JsonObject patch, MemoriesOptions options)
    {
        var errors = new Dictionary<string, string[]>();
        string[] allowed = ["content", "importance", "tags", "metadata", "key", "expires_at", "pinned", "status"];
        foreach (var (name, _) in patch)
            if (!allowed.Contains(name)) MemoryValidation.Add(errors, name, $"Not a field you can change; use {string.Join(", ", allowed)}.");
        if (errors.Count > 0) return errors;
        try
        {
            if (patch.TryGetPropertyValue("content", out var c)) MemoryValidation.Content(c?.GetValue<string>(), options, "", errors);
            if (patch.TryGetPropertyValue("importance", out var i))
            {
                if (i is null) MemoryValidation.Add(errors, "importance", "Must be between 0 and 1.");
                else MemoryValidation.Unit(i.GetValue<double>(), "importance", errors);
            }
            if (patch.TryGetPropertyValue("tags", out var t))
                MemoryValidation.Tags(t?.AsArray().Select(x => x?.GetValue<string>() ?? "").ToArray(), options, "tags", errors);
            if (patch.TryGetPropertyValue("metadata", out var m)) MemoryValidation.Metadata(m?.AsObject(), options, "metadata", errors);
            if (patch.TryGetPropertyValue("key", out var k)) MemoryValidation.Key(k?.GetValue<string>(), "key", errors);
            if (patch.TryGetPropertyValue("expires_at", out var e)) _ = e?.GetValue<DateTimeOffset>();
            if (patch.TryGetPropertyValue("pinned", out var p) && p?.GetValue<bool>() is null) MemoryValidation.Add(errors, "pinned", "true or false.");
            if (patch.TryGetPropertyValue("status", out var st) && st?.GetValue<string>() is not ("active" or "archived"))
                MemoryValidation.Add(errors, "status", "active or archived.");
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException)
        {
            MemoryValidation.Add(errors, "body", "A field has the wrong type: " + ex.Message);
        }
        return errors;
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(Owner owner, Guid id, Caller caller,
        MemoryStore store, HttpContext http, CancellationToken ct)
    {
        var ifMatch = ParseIfMatch(http);
        if (ifMatch is { Valid: false }) return Stale();
        return await Delete(owner, id, ifMatch?.Version, caller, store, ct);
    }

    /// <summary>Deletes one memory (REST and MCP); <paramref name="ifMatch"/>, a version, makes it conditional.</summary>
    internal static async Task<Results<NoContent, ProblemHttpResult>> Delete(Owner owner, Guid id, int? ifMatch, Caller caller,
        MemoryStore store, CancellationToken ct)
    {
        return await store.DeleteAsync(owner, id, ifMatch, caller.KeyId.ToString(), ct) switch
        {
            MemoryStore.WriteOutcome.NotFound => TypedResults.Problem(Problems.NotFound("memory")),
            MemoryStore.WriteOutcome.Stale => Stale(),
            _ => TypedResults.NoContent(),
        };
    }

    private static async Task<Results<Ok<ListResponse<HistoryResponse>>, ProblemHttpResult>> History(Owner owner, Guid id,
        MemoryStore store, CancellationToken ct)
    {
        var history = await store.HistoryAsync(owner, id, ct);
        if (history.Count == 0) return TypedResults.Problem(Problems.NotFound("memory"));
        return TypedResults.Ok(new ListResponse<HistoryResponse>(history.Select(h => h.AsResponse()).ToList(), null));
    }

    // ---- helpers ----

    private static Owner? UserOwner(Caller caller, string userId) =>
        AppUser.Validate(userId) is null ? new Owner(caller.TenantId, userId) : null;

    private static ValidationProblem InvalidUser() =>
        TypedResults.ValidationProblem(Problems.Field("user_id", "A user id is 1-128 characters without control characters."));

    private static ProblemHttpResult Stale() => TypedResults.Problem(Problems.PreconditionFailed(
        "If-Match does not match the memory's current ETag: it changed since you read it. GET it again and retry."));

    private sealed record IfMatch(bool Valid, int? Version);

    /// <summary>
    /// null: no If-Match; Valid=false: one that can never match; "*" matches any version. If-Match compares strongly
    /// (RFC 9110 13.1.1): a weak tag (W/"1") never matches, since a weak validator cannot promise the bytes are the same.
    /// </summary>
    private static IfMatch? ParseIfMatch(HttpContext http)
    {
        var raw = http.Request.Headers.IfMatch.ToString().Trim();
        if (raw.Length == 0) return null;
        if (raw == "*") return new IfMatch(true, null);
        if (raw.StartsWith("W/", StringComparison.Ordinal)) return new IfMatch(false, null);
        return int.TryParse(raw.Trim('"'), out var v) ? new IfMatch(true, v) : new IfMatch(false, null);
    }

    private static string LocationOf(Owner owner, Guid id) => owner.IsKnowledge
        ? $"/v1/knowledge/{id}"
        : $"/v1/users/{Uri.EscapeDataString(owner.UserId!)}/memories/{id}";

    private static JsonSerializerOptions JsonOptions(HttpContext http) =>
        http.RequestServices.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;

    private static T Deserialize<T>(string json, HttpContext http) => JsonSerializer.Deserialize<T>(json, JsonOptions(http))!;
}

/// <summary>Opaque page cursors: the sort key of the last item returned.</summary>
public static class Cursors
{
    public static string Encode(DateTimeOffset at, Guid id) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{at.UtcTicks}:{id:N}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static (DateTimeOffset At, Guid Id)? Decode(string cursor)
    {
        try
        {
            var b64 = cursor.Replace('-', '+').Replace('_', '/');
            b64 = b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '=');
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(b64)).Split(':');
            if (parts.Length == 2 && long.TryParse(parts[0], out var ticks) && Guid.TryParseExact(parts[1], "N", out var id)
                && ticks >= DateTimeOffset.MinValue.UtcTicks && ticks <= DateTimeOffset.MaxValue.UtcTicks)
                return (new DateTimeOffset(ticks, TimeSpan.Zero), id);
        }
        catch (FormatException) { }
        return null;
    }
}
