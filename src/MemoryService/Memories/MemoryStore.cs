using System.Text.Json;
using System.Text.Json.Nodes;
using MemoryService.Data;
using MemoryService.Embeddings;
using MemoryService.Graph;
using MemoryService.Learning;
using MemoryService.Retrieval;
using MemoryService.Users;
using MemoryService.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Pgvector;

namespace MemoryService.Memories;

/// <summary>Whose memories: a user's (UserId set) or the tenant's app knowledge (UserId null).</summary>
public sealed record Owner(Guid TenantId, string? UserId)
{
    public bool IsKnowledge => UserId is null;
}

/// <summary>A response to store with the write it describes, for Idempotency-Key replays.</summary>
public sealed record IdempotentResponse(string Key, byte[] RequestHash, int StatusCode, Func<IReadOnlyList<Memory>, string> Body, string? Location);

/// <summary>
/// The system of record. Every write is one transaction: rows, history and any idempotency record
/// commit together or not at all. Every query is keyed by tenant (and user), never by id alone.
/// </summary>
public sealed class MemoryStore(MemoryDb db, Embedder embedder, Reembedder worker, IOptions<EmbeddingsOptions> embeddings,
    WebhookOutbox outbox, TimeProvider clock, EntityStore entities, OwnerWriteGate gate)
{
    public MemoryDb Db => db;

    /// <summary>Webhook events to commit with a write (see <see cref="WebhookOutbox"/>).</summary>
    public WebhookOutbox Outbox => outbox;

    /// <summary>
    /// Inserts all items in one statement. Up to <see cref="EmbeddingsOptions.InlineBatchItems"/> items (a single create)
    /// are embedded first, so the next search has their vectors, and nothing is written if the embedder fails; a larger
    /// batch is stored at once without vectors and the background worker embeds it.
    /// </summary>
    public async Task<IReadOnlyList<Memory>> CreateAsync(Owner owner, IReadOnlyList<CreateMemoryRequest> items, string actor,
        IdempotentResponse? idempotency, CancellationToken ct)
    {
        var now = Micros(clock.GetUtcNow());
        var memories = items.Select(r => new Memory
        {
            Id = Guid.CreateVersion7(now),
            TenantId = owner.TenantId,
            UserId = owner.UserId,
            Kind = r.Kind ?? (owner.IsKnowledge ? MemoryKind.Knowledge : MemoryKind.Fact),
            Content = r.Content!.Trim(),
            Key = r.Key,
            Tags = r.Tags?.Distinct().ToArray() ?? [],
            Metadata = r.Metadata ?? [],
            Importance = (float)(r.Importance ?? 0.5),
            Confidence = (float)(r.Confidence ?? 1.0),
            Source = r.Source ?? MemorySource.User,
            ObservedAt = Micros(r.ObservedAt ?? now),
            CreatedAt = now,
            UpdatedAt = now,
            ValidFrom = Micros(r.ObservedAt ?? now),
            ExpiresAt = r.ExpiresAt is { } e ? Micros(e) : null,
            Pinned = r.Pinned ?? false,
        }).ToList();

        // 1. embed outside the transaction: a slow or failed model call holds no locks and writes nothing
        var inline = items.Count <= Math.Max(1, embeddings.Value.InlineBatchItems);
        var vectors = inline ? await embedder.EmbedDocumentsAsync(memories.Select(m => m.Content).ToList(), ct) : null;
        if (inline) foreach (var m in memories) m.EmbeddingModel = embedder.ModelId;

        // 2. one transaction: user row, memories + history, idempotency record
        using var turn = await gate.EnterAsync(owner, ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        // the last writes (version, entity links) go with the webhook read below: one round trip fewer
        var last = new List<NpgsqlBatchCommand>();
        await InsertAsync(memories, vectors, actor, tx, ct, last);
        if (idempotency is not null)
        {
            db.Add(new IdempotencyRecord
            {
                TenantId = owner.TenantId,
                Key = idempotency.Key,
                RequestHash = idempotency.RequestHash,
                UserId = owner.UserId,
                StatusCode = idempotency.StatusCode,
                ResponseBody = idempotency.Body(memories),
                Location = idempotency.Location,
                CreatedAt = now,
            });
            await db.SaveChangesAsync(ct);
        }
        await outbox.EnqueueAsync(db, tx, owner.TenantId, Created(memories), ct, alongside: last);
        await tx.CommitAsync(ct);
        if (!inline) worker.Wake();
        return memories;
    }

    /// <summary>
    /// Opens a write transaction for <paramref name="owner"/> and takes a transaction-scoped advisory lock on
    /// the owner, so writers that read-then-decide (learning) never interleave for one user.
    /// </summary>
    public async Task<IDbContextTransaction> BeginOwnerTransactionAsync(Owner owner, CancellationToken ct)
    {
        var tx = await db.Database.BeginTransactionAsync(ct);
        await LockOwnerAsync((NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)tx.GetDbTransaction(), owner, ct);
        return tx;
    }

    /// <summary>
    /// The owner's transaction-scoped advisory lock: learning's writes, learning-job enqueues and erasure take it,
    /// so an erase never interleaves with a learned write for the same user.
    /// </summary>
    public static async Task LockOwnerAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Owner owner, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended($1::text || '/' || coalesce($2, ''), 0))", connection, tx);
        cmd.Parameters.AddWithValue(owner.TenantId);
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)owner.UserId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Inserts memories whose vectors the caller already has, inside the caller's transaction. The caller records their
    /// webhook events (<see cref="Created"/>) with its other events as its last step, so the outbox's lane lock is always
    /// the last lock a writer takes and never closes a cycle with row locks.
    /// </summary>
    public async Task InsertEmbeddedAsync(Owner owner, IReadOnlyList<Memory> memories, float[][] vectors, string actor,
        IDbContextTransaction tx, CancellationToken ct)
    {
        if (memories.Count == 0) return;
        await InsertAsync(memories.ToList(), vectors, actor, tx, ct);
    }

    /// <summary>memory.created (or knowledge.created) for each memory, in order.</summary>
    public static List<WebhookEvent> Created(IEnumerable<Memory> memories) =>
        memories.Select(m => WebhookEvent.Of(m, WebhookEventTypes.MemoryCreated)).ToList();

    /// <summary>Gives a memory (tracked, its content changed) the new content's vector, written by the next SaveChanges.</summary>
    public void SetEmbedding(Memory memory, float[] vector)
    {
        memory.Embedding = VectorMath.ToStored(vector);
        memory.EmbeddingModel = embedder.ModelId;
    }

    public Task<IdempotencyRecord?> FindIdempotencyAsync(Guid tenantId, string key, CancellationToken ct) =>
        db.Set<IdempotencyRecord>().AsNoTracking().FirstOrDefaultAsync(r => r.TenantId == tenantId && r.Key == key, ct);

    internal async Task EnsureUserAsync(Owner owner, DateTimeOffset now, IDbContextTransaction tx, CancellationToken ct)
    {
        await using var cmd = Command("INSERT INTO users (tenant_id, id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", tx);
        cmd.Parameters.AddWithValue(owner.TenantId);
        cmd.Parameters.AddWithValue(owner.UserId!);
        cmd.Parameters.AddWithValue(now);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// One round trip for the whole batch (the user's row if new, the memories, their vectors and their history), so
    /// 1,000 items cost what a single create does; the version moves with the entity links. With <paramref name="deferred"/>
    /// the last of those writes are left in it for the caller to run before commit. Without <paramref name="vectors"/> the rows have no vector
    /// nor model: pending for the background worker.
    /// </summary>
    private async Task InsertAsync(List<Memory> ms, float[][]? vectors, string actor, IDbContextTransaction tx, CancellationToken ct,
        List<NpgsqlBatchCommand>? deferred = null)
    {
        for (var i = 0; i < (vectors?.Length ?? 0); i++) ms[i].Embedding = VectorMath.ToStored(vectors![i]);

        await using var batch = new NpgsqlBatch((NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)tx.GetDbTransaction());
        // The owner's version moves as one plain UPDATE, not through the trigger (off for the insert alone). Its row lock
        // serialises the owner's writers until commit, so it is taken as late as it can be: ahead of the first entity
        // write, as on every other write path (a version lock taken after an entity's could close a cycle), not at the
        // insert, whose new rows nobody else waits for.
        var owner = new Owner(ms[0].TenantId, ms[0].UserId);
        // (the user's row first, so the version's update finds it even when a concurrent first write of the user made it)
        if (owner.UserId is not null)
        {
            var user = new NpgsqlBatchCommand("INSERT INTO users (tenant_id, id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING");
            user.Parameters.AddWithValue(owner.TenantId);
            user.Parameters.AddWithValue(owner.UserId);
            user.Parameters.AddWithValue(ms[0].CreatedAt);
            batch.BatchCommands.Add(user);
        }
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT set_config('memsvc.version_by_caller', 'on', true)"));
        var cmd = new NpgsqlBatchCommand("""
            WITH d AS (
                SELECT * FROM unnest($4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::real[],
                                     $11::real[], $12::text[], $13::timestamptz[], $14::timestamptz[], $18::boolean[], $15::halfvec[])
                     WITH ORDINALITY AS d(id, kind, content, key, tags, metadata, importance, confidence, source, observed_at, expires_at, pinned,
                                          embedding, ord)
            ), ins AS (
                INSERT INTO memories (id, tenant_id, user_id, kind, content, key, tags, metadata, importance, confidence, source,
                                      observed_at, created_at, updated_at, valid_from, expires_at, embedding, embedding_model, pinned)
                SELECT d.id, $1, $2, d.kind, d.content, d.key, ARRAY(SELECT jsonb_array_elements_text(d.tags::jsonb)),
                       d.metadata::jsonb, d.importance, d.confidence, d.source, d.observed_at, $3, $3, d.observed_at, d.expires_at,
                       d.embedding, $16, d.pinned
                FROM d ORDER BY d.ord
                RETURNING id, content
            )
            INSERT INTO memory_history (tenant_id, user_id, memory_id, event, new_content, changed_at, actor)
            SELECT $1, $2, ins.id, 'created', ins.content, $3, $17 FROM ins
            """);
        batch.BatchCommands.Add(cmd);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT set_config('memsvc.version_by_caller', 'off', true)"));
        var p = cmd.Parameters;
        p.AddWithValue(ms[0].TenantId);
        p.Add(new NpgsqlParameter { Value = (object?)ms[0].UserId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        p.AddWithValue(ms[0].CreatedAt);
        p.AddWithValue(ms.Select(m => m.Id).ToArray());
        p.AddWithValue(ms.Select(m => m.Kind.ToString().ToLowerInvariant()).ToArray());
        p.AddWithValue(ms.Select(m => m.Content).ToArray());
        p.Add(new NpgsqlParameter { Value = ms.Select(m => m.Key).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        p.AddWithValue(ms.Select(m => JsonSerializer.Serialize(m.Tags)).ToArray());
        p.AddWithValue(ms.Select(m => m.Metadata.ToJsonString()).ToArray());
        p.AddWithValue(ms.Select(m => m.Importance).ToArray());
        p.AddWithValue(ms.Select(m => m.Confidence).ToArray());
        p.AddWithValue(ms.Select(m => m.Source.ToString().ToLowerInvariant()).ToArray());
        p.AddWithValue(ms.Select(m => m.ObservedAt).ToArray());
        p.Add(new NpgsqlParameter { Value = ms.Select(m => m.ExpiresAt).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        p.Add(new NpgsqlParameter<HalfVector?[]> { TypedValue = ms.Select(m => m.Embedding).ToArray() });
        p.Add(new NpgsqlParameter { Value = vectors is null ? DBNull.Value : embedder.ModelId, NpgsqlDbType = NpgsqlDbType.Text });
        p.AddWithValue(actor);
        p.AddWithValue(ms.Select(m => m.Pinned).ToArray());
        await batch.ExecuteNonQueryAsync(ct);
        var version = MoveVersion(owner);
        var c = (NpgsqlConnection)db.Database.GetDbConnection();
        if (await entities.LinkAsync(owner, ms, c, (NpgsqlTransaction)tx.GetDbTransaction(), ct, beforeWrites: version, deferred)) return;
        if (deferred is not null) deferred.Add(version);
        else
        {
            await using var alone = new NpgsqlBatch(c, (NpgsqlTransaction)tx.GetDbTransaction()) { BatchCommands = { version } };
            await alone.ExecuteNonQueryAsync(ct);
        }
    }

    /// <summary>Moves the owner's version, as the memories trigger does, for a statement that turned the trigger off
    /// (memsvc.version_by_caller).</summary>
    private static NpgsqlBatchCommand MoveVersion(Owner owner)
    {
        var cmd = new NpgsqlBatchCommand(owner.IsKnowledge
            ? "UPDATE tenants SET knowledge_version = nextval('memory_versions') WHERE id = $1"
            : "UPDATE users SET memory_version = nextval('memory_versions') WHERE tenant_id = $1 AND id = $2");
        cmd.Parameters.AddWithValue(owner.TenantId);
        if (!owner.IsKnowledge) cmd.Parameters.AddWithValue(owner.UserId!);
        return cmd;
    }

    public IQueryable<Memory> Owned(Owner owner) =>
        db.Set<Memory>().Where(m => m.TenantId == owner.TenantId && m.UserId == owner.UserId);

    /// <summary>Memories by id within one tenant (search results).</summary>
    public async Task<Dictionary<Guid, Memory>> LoadAsync(Guid tenantId, Guid[] ids, CancellationToken ct) =>
        await db.Set<Memory>().AsNoTracking().Where(m => m.TenantId == tenantId && ids.Contains(m.Id)).ToDictionaryAsync(m => m.Id, ct);

    public Task<Memory?> GetAsync(Owner owner, Guid id, CancellationToken ct) =>
        Owned(owner).AsNoTracking().FirstOrDefaultAsync(m => m.Id == id, ct);

    public Task<List<MemoryHistory>> HistoryAsync(Owner owner, Guid id, CancellationToken ct) =>
        db.Set<MemoryHistory>().AsNoTracking()
            .Where(h => h.TenantId == owner.TenantId && h.UserId == owner.UserId && h.MemoryId == id)
            .OrderBy(h => h.Id).ToListAsync(ct);

    public enum WriteOutcome { Done, NotFound, Stale }

    /// <summary>Applies a merge patch; <paramref name="ifMatch"/> (a version) makes it conditional.</summary>
    public async Task<(WriteOutcome Outcome, Memory? Memory)> PatchAsync(Owner owner, Guid id, JsonObject patch, int? ifMatch,
        string actor, CancellationToken ct)
    {
        var memory = await Owned(owner).FirstOrDefaultAsync(m => m.Id == id, ct);
        if (memory is null) return (WriteOutcome.NotFound, null);
        if (ifMatch is { } v && v != memory.Version) return (WriteOutcome.Stale, memory);

        var oldContent = memory.Content;
        if (patch.TryGetPropertyValue("content", out var content)) memory.Content = content!.GetValue<string>().Trim();
        if (patch.TryGetPropertyValue("importance", out var importance)) memory.Importance = (float)importance!.GetValue<double>();
        if (patch.TryGetPropertyValue("tags", out var tags)) memory.Tags = tags?.AsArray().Select(t => t!.GetValue<string>()).Distinct().ToArray() ?? [];
        if (patch.TryGetPropertyValue("metadata", out var metadata)) memory.Metadata = metadata?.DeepClone().AsObject() ?? [];
        if (patch.TryGetPropertyValue("key", out var key)) memory.Key = key?.GetValue<string>();
        if (patch.TryGetPropertyValue("expires_at", out var expires)) memory.ExpiresAt = expires is null ? null : Micros(expires.GetValue<DateTimeOffset>());
        if (patch.TryGetPropertyValue("pinned", out var pinned)) memory.Pinned = pinned!.GetValue<bool>();
        var oldStatus = memory.Status;
        if (patch.TryGetPropertyValue("status", out var status)) memory.Status = Enum.Parse<MemoryStatus>(status!.GetValue<string>(), true);

        var contentChanged = memory.Content != oldContent;
        if (contentChanged) SetEmbedding(memory, await embedder.EmbedDocumentAsync(memory.Content, ct));

        var now = Micros(clock.GetUtcNow());
        memory.UpdatedAt = now;
        memory.Version++;
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        if (patch.Any(p => p.Key != "status"))
            db.Add(new MemoryHistory
            {
                TenantId = owner.TenantId, UserId = owner.UserId, MemoryId = id, Event = MemoryEvent.Updated,
                OldContent = oldContent, NewContent = memory.Content, ChangedAt = now, Actor = actor,
            });
        if (memory.Status != oldStatus)
            db.Add(new MemoryHistory
            {
                TenantId = owner.TenantId, UserId = owner.UserId, MemoryId = id,
                Event = memory.Status == MemoryStatus.Archived ? MemoryEvent.Archived : MemoryEvent.Restored,
                OldContent = memory.Content, ChangedAt = now, Actor = actor,
            });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateConcurrencyException)
        {
            return (WriteOutcome.Stale, null);
        }
        if (contentChanged) await entities.RelinkAsync(owner, memory, (NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)tx.GetDbTransaction(), ct);
        await outbox.EnqueueAsync(db, tx, owner.TenantId, [WebhookEvent.Of(memory, WebhookEventTypes.MemoryUpdated)], ct);
        await tx.CommitAsync(ct);
        return (WriteOutcome.Done, memory);
    }

    public async Task<WriteOutcome> DeleteAsync(Owner owner, Guid id, int? ifMatch, string actor, CancellationToken ct)
    {
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var memory = await Owned(owner).AsNoTracking().FirstOrDefaultAsync(m => m.Id == id, ct);
        if (memory is null) return WriteOutcome.NotFound;
        if (ifMatch is { } v && v != memory.Version) return WriteOutcome.Stale;
        var deleted = await Owned(owner).Where(m => m.Id == id && m.Version == memory.Version).ExecuteDeleteAsync(ct);
        if (deleted == 0) return WriteOutcome.Stale;
        db.Add(new MemoryHistory
        {
            TenantId = owner.TenantId, UserId = owner.UserId, MemoryId = id, Event = MemoryEvent.Deleted,
            OldContent = memory.Content, ChangedAt = clock.GetUtcNow(), Actor = actor,
        });
        await db.SaveChangesAsync(ct);
        await outbox.EnqueueAsync(db, tx, owner.TenantId, [WebhookEvent.Of(memory, WebhookEventTypes.MemoryDeleted)], ct);
        await tx.CommitAsync(ct);
        return WriteOutcome.Done;
    }

    public Task<bool> UserExistsAsync(Guid tenantId, string userId, CancellationToken ct) =>
        db.Set<AppUser>().AnyAsync(u => u.TenantId == tenantId && u.Id == userId, ct);

    /// <summary>Deletes every memory of the user (history records each deletion); the user is kept.</summary>
    public async Task<int?> ResetAsync(Guid tenantId, string userId, string actor, CancellationToken ct)
    {
        // Under the owner's lock, and queued learning goes with the memories: a job from a conversation before the
        // reset must not bring its memories back afterwards (a job in flight re-checks under the same lock).
        await using var tx = await BeginOwnerTransactionAsync(new Owner(tenantId, userId), ct);
        if (!await UserExistsAsync(tenantId, userId, ct)) return null;
        await DeleteLearningJobsAsync(tenantId, userId, tx, ct);
        await BehaviourSignalStore.DeleteOwnerAsync((NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)tx.GetDbTransaction(), tenantId, userId, ct);
        await using var cmd = Command("""
            WITH gone AS (DELETE FROM memories WHERE tenant_id = $1 AND user_id = $2 RETURNING id, content)
            INSERT INTO memory_history (tenant_id, user_id, memory_id, event, old_content, changed_at, actor)
            SELECT $1, $2, id, 'deleted', content, $3, $4 FROM gone
            """, tx);
        cmd.Parameters.AddWithValue(tenantId);
        cmd.Parameters.AddWithValue(userId);
        cmd.Parameters.AddWithValue(clock.GetUtcNow());
        cmd.Parameters.AddWithValue(actor);
        var count = await cmd.ExecuteNonQueryAsync(ct);
        await EntityStore.DeleteOwnerAsync(new Owner(tenantId, userId), (NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)tx.GetDbTransaction(), ct);
        await outbox.EnqueueAsync(db, tx, tenantId, [new WebhookEvent(WebhookEventTypes.UserReset, userId, new UserResetData(count))], ct);
        await tx.CommitAsync(ct);
        return count;
    }

    /// <summary>
    /// Erases the user (memories, history, stored idempotent responses, the user row) and their learning jobs under
    /// the owner's lock: a learning job in flight finds its job gone when it comes to write (it re-checks under the
    /// same lock) and writes nothing. True when anything was erased.
    /// </summary>
    public async Task<bool> EraseAsync(Guid tenantId, string userId, CancellationToken ct)
    {
        await using var tx = await BeginOwnerTransactionAsync(new Owner(tenantId, userId), ct);
        var jobCount = await DeleteLearningJobsAsync(tenantId, userId, tx, ct);
        await BehaviourSignalStore.DeleteOwnerAsync((NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)tx.GetDbTransaction(), tenantId, userId, ct);
        await using (var lifecycle = Command("DELETE FROM lifecycle_state WHERE tenant_id = $1 AND user_id = $2", tx))
        {
            lifecycle.Parameters.AddWithValue(tenantId);
            lifecycle.Parameters.AddWithValue(userId);
            await lifecycle.ExecuteNonQueryAsync(ct);
        }
        await db.Set<MemoryHistory>().Where(h => h.TenantId == tenantId && h.UserId == userId).ExecuteDeleteAsync(ct);
        await db.Set<IdempotencyRecord>().Where(r => r.TenantId == tenantId && r.UserId == userId).ExecuteDeleteAsync(ct);
        await EntityStore.DeleteOwnerAsync(new Owner(tenantId, userId), (NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)tx.GetDbTransaction(), ct);
        await db.Set<Memory>().Where(m => m.TenantId == tenantId && m.UserId == userId).ExecuteDeleteAsync(ct);
        var users = await db.Set<AppUser>().Where(u => u.TenantId == tenantId && u.Id == userId).ExecuteDeleteAsync(ct);
        // Undelivered events carry the user's memories: they go too, and the erasure itself is announced without content.
        await db.Database.ExecuteSqlAsync($"DELETE FROM webhook_events WHERE tenant_id = {tenantId} AND user_id = {userId}", ct);
        if (users > 0 || jobCount > 0)
            await outbox.EnqueueAsync(db, tx, tenantId, [new WebhookEvent(WebhookEventTypes.UserErased, userId, new UserErasedData())], ct);
        await tx.CommitAsync(ct);
        return users > 0 || jobCount > 0;
    }

    private async Task<int> DeleteLearningJobsAsync(Guid tenantId, string userId, IDbContextTransaction tx, CancellationToken ct)
    {
        await using var jobs = Command("DELETE FROM learning_jobs WHERE tenant_id = $1 AND user_id = $2", tx);
        jobs.Parameters.AddWithValue(tenantId);
        jobs.Parameters.AddWithValue(userId);
        return await jobs.ExecuteNonQueryAsync(ct);
    }
    /// <summary>user.reset's data: how many memories were deleted.</summary>
    public sealed record UserResetData(int Deleted);

    /// <summary>user.erased's data: nothing about the user remains to be told.</summary>
    public sealed record UserErasedData;

    /// <summary>PostgreSQL keeps microseconds: round first so a write's response equals a later read.</summary>
    public static DateTimeOffset Micros(DateTimeOffset t) => new(t.UtcTicks - t.UtcTicks % 10, TimeSpan.Zero);

    private NpgsqlCommand Command(string sql, IDbContextTransaction tx) =>
        new(sql, (NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)tx.GetDbTransaction());
}
