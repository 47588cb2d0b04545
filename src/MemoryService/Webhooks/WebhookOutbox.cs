using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MemoryService.Memories;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace MemoryService.Webhooks;

/// <summary>The event types an endpoint can subscribe to.</summary>
public static class WebhookEventTypes
{
    public const string MemoryCreated = "memory.created", MemoryUpdated = "memory.updated", MemorySuperseded = "memory.superseded",
        MemoryDeleted = "memory.deleted", MemoryExpired = "memory.expired", UserReset = "user.reset", UserErased = "user.erased",
        LearningCompleted = "learning.completed";

    public static readonly IReadOnlyList<string> All =
    [
        MemoryCreated, MemoryUpdated, MemorySuperseded, MemoryDeleted, MemoryExpired,
        "knowledge.created", "knowledge.updated", "knowledge.deleted", "knowledge.expired",
        UserReset, UserErased, LearningCompleted,
    ];

    /// <summary>"memory.x" for a user's memory, "knowledge.x" for the tenant's knowledge.</summary>
    public static string For(Memory memory, string memoryType) => memory.UserId is null ? "knowledge" + memoryType["memory".Length..] : memoryType;
}

/// <summary>One event to record: its type, whose it is (null: the tenant's knowledge) and its data object.</summary>
public sealed record WebhookEvent(string Type, string? UserId, object Data)
{
    public static WebhookEvent Of(Memory memory, string memoryType) =>
        new(WebhookEventTypes.For(memory, memoryType), memory.UserId, memory.AsResponse());
}

/// <summary>What every endpoint receives: the envelope around an event's data.</summary>
public sealed record WebhookPayload(Guid Id, string Type, DateTimeOffset CreatedAt, string? UserId, object Data);

/// <summary>
/// The outbox. EnqueueAsync runs inside the caller's transaction: the events and one delivery per
/// subscribed endpoint commit with the change they describe, or not at all. A tenant without a subscribed endpoint
/// costs one indexed read. Call it once, as the last step before commit: it takes the lane's lock, and a lock taken
/// last cannot be part of a deadlock with the row locks the change holds. A caller's own last statements (returning no
/// rows, such as its entity links) can ride along in the round trip of the subscription read, ahead of it.
/// </summary>
public sealed class WebhookOutbox(IOptions<WebhooksOptions> options, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, TimeProvider clock)
{
    public async Task EnqueueAsync(NpgsqlConnection conn, NpgsqlTransaction tx, Guid tenantId, IReadOnlyList<WebhookEvent> events,
        CancellationToken ct, IReadOnlyList<NpgsqlBatchCommand>? alongside = null)
    {
        if (events.Count == 0)
        {
            if (alongside is not { Count: > 0 }) return;
            await using var only = new NpgsqlBatch(conn, tx);
            foreach (var command in alongside) only.BatchCommands.Add(command);
            await only.ExecuteNonQueryAsync(ct);
            return;
        }

        // 1. which of these types any enabled endpoint of the tenant wants
        var subscribed = new HashSet<string>();
        await using (var read = new NpgsqlBatch(conn, tx))
        {
            foreach (var command in alongside ?? []) read.BatchCommands.Add(command);
            var query = new NpgsqlBatchCommand("SELECT DISTINCT e FROM webhooks w, unnest(w.events) e WHERE w.tenant_id = $1 AND w.disabled_at IS NULL");
            query.Parameters.AddWithValue(tenantId);
            read.BatchCommands.Add(query);
            // Npgsql exposes result sets only for statements that return rows: the reader starts at the query's
            await using var reader = await read.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) subscribed.Add(reader.GetString(0));
        }
        var wanted = events.Where(e => subscribed.Contains(e.Type)).ToList();
        if (wanted.Count == 0) return;

        // 2. one lock per lane until commit: deliveries get ids in commit order, so a lane's order is its commit order
        foreach (var lane in wanted.Select(e => e.UserId ?? "").Distinct().Order(StringComparer.Ordinal))
        {
            await using var lockLane = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended('webhooks/' || $1::text || '/' || $2, 0))", conn, tx);
            lockLane.Parameters.AddWithValue(tenantId);
            lockLane.Parameters.AddWithValue(lane);
            await lockLane.ExecuteNonQueryAsync(ct);
        }

        // 3. the events (their exact bodies) and a delivery per subscribed endpoint, in event order
        var now = MemoryStore.Micros(clock.GetUtcNow());
        var ids = wanted.Select(_ => Guid.CreateVersion7(now)).ToArray();
        var bodies = wanted.Select((e, i) => Body(new WebhookPayload(ids[i], e.Type, now, e.UserId, e.Data))).ToArray();
        await using var insert = new NpgsqlBatch(conn, tx)
        {
            BatchCommands =
            {
                new("""
                    INSERT INTO webhook_events (id, tenant_id, user_id, type, body, created_at)
                    SELECT e.id, $1, e.user_id, e.type, e.body, $6 FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[]) AS e(id, user_id, type, body)
                    """),
                new("""
                    INSERT INTO webhook_deliveries (webhook_id, event_id, lane, next_attempt_at, created_at, updated_at)
                    SELECT w.id, e.id, coalesce(e.user_id, ''), $5, $5, $5
                    FROM unnest($2::uuid[], $3::text[], $4::text[]) WITH ORDINALITY AS e(id, user_id, type, ord)
                    JOIN webhooks w ON w.tenant_id = $1 AND w.disabled_at IS NULL AND e.type = ANY (w.events)
                    ORDER BY e.ord, w.id
                    """),
            },
        };
        foreach (var (command, withBodies) in new[] { (insert.BatchCommands[0], true), (insert.BatchCommands[1], false) })
        {
            var p = command.Parameters;
            p.AddWithValue(tenantId);
            p.AddWithValue(ids);
            p.Add(new NpgsqlParameter { Value = wanted.Select(e => e.UserId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            p.AddWithValue(wanted.Select(e => e.Type).ToArray());
            if (withBodies) p.AddWithValue(bodies);
            p.AddWithValue(now);
        }
        await insert.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Within one transaction of EF's: the same connection and transaction.</summary>
    public Task EnqueueAsync(DbContext db, IDbContextTransaction tx, Guid tenantId, IReadOnlyList<WebhookEvent> events, CancellationToken ct,
        IReadOnlyList<NpgsqlBatchCommand>? alongside = null) =>
        EnqueueAsync((NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)tx.GetDbTransaction(), tenantId, events, ct, alongside);

    /// <summary>The JSON as the API writes it; over Webhooks:MaxPayloadBytes the data keeps only its id and says truncated.</summary>
    private string Body(WebhookPayload payload)
    {
        var o = json.Value.SerializerOptions;
        var body = JsonSerializer.Serialize(payload, o);
        if (Encoding.UTF8.GetByteCount(body) <= options.Value.MaxPayloadBytes) return body;
        var cut = new JsonObject { ["truncated"] = true };
        if (JsonSerializer.SerializeToNode(payload.Data, o) is JsonObject data && data["id"] is { } id) cut["id"] = id.DeepClone();
        return JsonSerializer.Serialize(payload with { Data = cut }, o);
    }
}
