using MemoryService.Data;
using MemoryService.Memories;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace MemoryService.Webhooks;

/// <summary>A claimed delivery: what to post where, and the claim that lets only this worker record the outcome.</summary>
public sealed record ClaimedDelivery(long Id, Guid WebhookId, Guid EventId, int Attempts, string Url, string Secret, string Body, Guid ClaimToken);

/// <summary>
/// The delivery queue in SQL. Any replica claims with <c>FOR UPDATE SKIP LOCKED</c> under a lease; a delivery is due
/// only when no earlier one of its lane (the same endpoint and user) is still pending or running, so each user's events
/// arrive in order. Times come from the database clock, so replicas agree about leases and backoff.
/// </summary>
public sealed class WebhookDeliveries(NpgsqlDataSource dataSource, IServiceScopeFactory scopes, WebhookOutbox outbox,
    IOptions<WebhooksOptions> options)
{
    private const int SweepBatch = 500, PurgeBatch = 5000;

    private WebhooksOptions O => options.Value;

    public async Task<ClaimedDelivery?> ClaimAsync(CancellationToken ct)
    {
        var token = Guid.NewGuid();
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var claim = new NpgsqlCommand("""
            UPDATE webhook_deliveries d SET status = 'running', attempts = d.attempts + 1, claim_token = $1,
                   locked_until = now() + $2 * interval '1 second', updated_at = now()
            FROM (SELECT c.id FROM webhook_deliveries c
                  WHERE c.status IN ('pending', 'running')
                    AND ((c.status = 'pending' AND c.next_attempt_at <= now()) OR (c.status = 'running' AND c.locked_until < now()))
                    AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                                    WHERE e.webhook_id = c.webhook_id AND e.lane = c.lane AND e.id < c.id AND e.status IN ('pending', 'running'))
                    AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = c.webhook_id AND w.disabled_at IS NULL)
                  ORDER BY c.next_attempt_at, c.id LIMIT 1
                  FOR UPDATE SKIP LOCKED) next, webhooks w, webhook_events ev
            WHERE d.id = next.id AND w.id = d.webhook_id AND ev.id = d.event_id
            RETURNING d.id, d.webhook_id, d.event_id, d.attempts, w.url, w.secret, ev.body
            """, conn);
        claim.Parameters.AddWithValue(token);
        claim.Parameters.AddWithValue(O.TimeoutSeconds + 30);
        await using var reader = await claim.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        return new ClaimedDelivery(reader.GetInt64(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetInt32(3), reader.GetString(4),
            reader.GetString(5), reader.GetString(6), token);
    }

    /// <summary>A 2xx: delivered, and the endpoint's run of failures is over.</summary>
    public async Task SucceededAsync(ClaimedDelivery d, int statusCode, int durationMs, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            WITH done AS (
                UPDATE webhook_deliveries SET status = 'delivered', last_status_code = $3, last_duration_ms = $4, last_error = NULL,
                       locked_until = NULL, claim_token = NULL, updated_at = now()
                WHERE id = $1 AND claim_token = $2 RETURNING webhook_id)
            UPDATE webhooks w SET consecutive_failures = 0 FROM done WHERE w.id = done.webhook_id AND w.consecutive_failures <> 0
            """, conn);
        cmd.Parameters.AddWithValue(d.Id);
        cmd.Parameters.AddWithValue(d.ClaimToken);
        cmd.Parameters.AddWithValue(statusCode);
        cmd.Parameters.AddWithValue(durationMs);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// A failed attempt: pending again after the backoff, or failed once Webhooks:RetryPeriodSeconds has passed since
    /// the event. The endpoint's failures in a row are counted; at Webhooks:DisableAfterConsecutiveFailures it is
    /// disabled and everything still queued for it is marked failed.
    /// </summary>
    public async Task FailedAsync(ClaimedDelivery d, int? statusCode, int durationMs, string error, CancellationToken ct)
    {
        var o = O;
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        // One transaction: an endpoint is never seen disabled with its queue still pending.
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            WITH failed AS (
                UPDATE webhook_deliveries
                SET status = CASE WHEN now() >= created_at + $5 * interval '1 second' THEN 'failed' ELSE 'pending' END,
                    next_attempt_at = now() + least($6 * power(2, attempts - 1), $7) * interval '1 second',
                    last_status_code = $3, last_duration_ms = $4, last_error = $8, locked_until = NULL, claim_token = NULL, updated_at = now()
                WHERE id = $1 AND claim_token = $2 RETURNING webhook_id)
            UPDATE webhooks w SET consecutive_failures = w.consecutive_failures + 1,
                   disabled_at = CASE WHEN w.consecutive_failures + 1 >= $9 THEN coalesce(w.disabled_at, now()) ELSE w.disabled_at END,
                   disabled_reason = CASE WHEN w.disabled_at IS NULL AND w.consecutive_failures + 1 >= $9
                                          THEN 'Disabled after ' || (w.consecutive_failures + 1) || ' failed attempts in a row; the last: ' || $8
                                          ELSE w.disabled_reason END
            FROM failed WHERE w.id = failed.webhook_id
            RETURNING w.disabled_at IS NOT NULL
            """, conn, tx);
        cmd.Parameters.AddWithValue(d.Id);
        cmd.Parameters.AddWithValue(d.ClaimToken);
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)statusCode ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        cmd.Parameters.AddWithValue(durationMs);
        cmd.Parameters.AddWithValue(o.RetryPeriodSeconds);
        cmd.Parameters.AddWithValue(o.RetryDelaySeconds);
        cmd.Parameters.AddWithValue(o.MaxRetryDelaySeconds);
        cmd.Parameters.AddWithValue(error.Length <= 1000 ? error : error[..1000]);
        cmd.Parameters.AddWithValue(o.DisableAfterConsecutiveFailures);
        if (await cmd.ExecuteScalarAsync(ct) is true) await FailQueuesOfDisabledAsync(conn, tx, ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>Gives a claim back without counting the attempt (this replica is shutting down).</summary>
    public async Task ReleaseAsync(ClaimedDelivery d, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            UPDATE webhook_deliveries SET status = 'pending', attempts = greatest(attempts - 1, 0), next_attempt_at = now(),
                   locked_until = NULL, claim_token = NULL, updated_at = now()
            WHERE id = $1 AND claim_token = $2
            """, conn);
        cmd.Parameters.AddWithValue(d.Id);
        cmd.Parameters.AddWithValue(d.ClaimToken);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// memory.expired / knowledge.expired: announces current memories whose expires_at passed since the watermark, up to
    /// 500 a run, with the watermark moved in the same transaction. One replica at a time (the row is taken with SKIP LOCKED).
    /// </summary>
    public async Task<int> SweepExpiredAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MemoryDb>();
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var conn = (NpgsqlConnection)db.Database.GetDbConnection();
        var ntx = (NpgsqlTransaction)tx.GetDbTransaction();

        DateTimeOffset sweptUntil, now;
        Guid lastId;
        await using (var mark = new NpgsqlCommand("SELECT swept_until, last_id, now() FROM webhook_expiry_watermark WHERE id = 1 FOR UPDATE SKIP LOCKED", conn, ntx))
        await using (var reader = await mark.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct)) return 0;
            (sweptUntil, lastId, now) = (reader.GetFieldValue<DateTimeOffset>(0), reader.GetGuid(1), reader.GetFieldValue<DateTimeOffset>(2));
        }

        var due = new List<(Guid Id, DateTimeOffset ExpiresAt)>();
        await using (var find = new NpgsqlCommand("""
            SELECT id, expires_at FROM memories
            WHERE expires_at IS NOT NULL AND (expires_at, id) > ($1, $2) AND expires_at <= $3
            ORDER BY expires_at, id LIMIT $4
            """, conn, ntx))
        {
            find.Parameters.AddWithValue(sweptUntil);
            find.Parameters.AddWithValue(lastId);
            find.Parameters.AddWithValue(now);
            find.Parameters.AddWithValue(SweepBatch);
            await using var reader = await find.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) due.Add((reader.GetGuid(0), reader.GetFieldValue<DateTimeOffset>(1)));
        }

        var ids = due.Select(d => d.Id).ToArray();
        var memories = await db.Set<Memory>().AsNoTracking().Where(m => ids.Contains(m.Id) && m.ValidTo == null).ToListAsync(ct);
        foreach (var tenant in memories.GroupBy(m => m.TenantId))
            await outbox.EnqueueAsync(conn, ntx, tenant.Key,
                tenant.OrderBy(m => m.ExpiresAt).ThenBy(m => m.Id).Select(m => WebhookEvent.Of(m, WebhookEventTypes.MemoryExpired)).ToList(), ct);

        // A full batch stops at its last row; otherwise everything up to now was seen.
        var (until, last) = due.Count == SweepBatch ? (due[^1].ExpiresAt, due[^1].Id) : (now, Guid.AllBitsSet);
        await using (var move = new NpgsqlCommand("UPDATE webhook_expiry_watermark SET swept_until = $1, last_id = $2 WHERE id = 1", conn, ntx))
        {
            move.Parameters.AddWithValue(until);
            move.Parameters.AddWithValue(last);
            await move.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return memories.Count;
    }

    /// <summary>Deletes finished deliveries and events older than Webhooks:RetentionHours, a bounded batch a run.</summary>
    public async Task PurgeAsync(CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var purge = new NpgsqlBatch(conn)
        {
            BatchCommands =
            {
                new("""
                    DELETE FROM webhook_deliveries WHERE id IN (
                        SELECT id FROM webhook_deliveries WHERE status IN ('delivered', 'failed') AND updated_at < now() - $1 * interval '1 hour' LIMIT $2)
                    """),
                new("""
                    DELETE FROM webhook_events WHERE id IN (
                        SELECT e.id FROM webhook_events e
                        WHERE e.created_at < now() - $1 * interval '1 hour' AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)
                        LIMIT $2)
                    """),
            },
        };
        foreach (NpgsqlBatchCommand command in purge.BatchCommands)
        {
            command.Parameters.AddWithValue(O.RetentionHours);
            command.Parameters.AddWithValue(PurgeBatch);
        }
        await purge.ExecuteNonQueryAsync(ct);
        await FailQueuesOfDisabledAsync(conn, null, ct);
    }

    private static async Task FailQueuesOfDisabledAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            UPDATE webhook_deliveries d SET status = 'failed', locked_until = NULL, claim_token = NULL, updated_at = now(),
                   last_error = coalesce(d.last_error || ' / ', '') || 'Not sent: the endpoint is disabled.'
            FROM webhooks w WHERE w.id = d.webhook_id AND w.disabled_at IS NOT NULL AND d.status IN ('pending', 'running')
            """, conn, tx);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
