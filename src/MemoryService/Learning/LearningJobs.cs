using System.Text.Json;
using MemoryService.Memories;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace MemoryService.Learning;

/// <summary>A claimed job: what to learn from, and the claim that lets only this worker finish it.</summary>
public sealed record ClaimedLearningJob(Guid Id, Guid TenantId, string UserId, IReadOnlyList<ConversationMessage> Messages,
    DateTimeOffset ObservedAt, string? TimeZone, string Actor, int Attempts, Guid ClaimToken, string? Conversation = null);

/// <summary>One job as the listing endpoint shows it.</summary>
public sealed record LearningJobInfo(Guid Id, string Status, int Attempts, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    DateTimeOffset? NextAttemptAt, string? LastError, int MessageCount);

/// <summary>
/// Durable background learning. <see cref="EnqueueAsync"/> commits a job before it returns, so a caller may tell its
/// client that learning will happen; <see cref="LearningJobRunner"/> on any replica claims due jobs with
/// <c>FOR UPDATE SKIP LOCKED</c> under a lease, retries failures with exponential backoff, and leaves a job as
/// failed with its last error after <see cref="LearningJobsOptions.MaxAttempts"/>. Times come from the
/// database clock, so replicas never disagree about leases.
/// </summary>
public sealed class LearningJobs(NpgsqlDataSource dataSource, IOptions<LearningJobsOptions> options, IOptions<LearningOptions> learning)
{
    public const string Pending = "pending", Running = "running", Failed = "failed";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly SemaphoreSlim _wake = new(0, 1);

    private LearningJobsOptions O => options.Value;

    /// <summary>
    /// Records a job to learn from <paramref name="messages"/> (each cut to Learning:MaxMessageChars, the last
    /// Learning:MaxMessages kept) and returns its id once committed; null when the user's or the tenant's pending
    /// jobs are at their cap (answer <see cref="QueueFull(HttpResponse)"/>).
    /// </summary>
    public async Task<Guid?> EnqueueAsync(Guid tenantId, string userId, IReadOnlyList<ConversationMessage> messages,
        DateTimeOffset observedAt, string? timeZone, string actor, CancellationToken ct, string? conversation = null)
    {
        var l = learning.Value;
        var kept = messages.TakeLast(l.MaxMessages).Select(m => new ConversationMessage(m.Role, Cut(m.Content, l.MaxMessageChars))).ToList();
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // Under the owner's lock: the per-user count and the insert cannot interleave, and an erase running now
        // either deletes this job or comes first.
        await MemoryStore.LockOwnerAsync(conn, tx, new Owner(tenantId, userId), ct);
        if (!await HasRoomAsync(conn, tx, tenantId, userId, ct)) return null;

        var id = Guid.CreateVersion7();
        await using var insert = new NpgsqlCommand("""
            INSERT INTO learning_jobs (id, tenant_id, user_id, status, messages, observed_at, observed_offset_minutes, time_zone, actor,
                                       run_after, created_at, updated_at, conversation)
            VALUES ($1, $2, $3, 'pending', $4::jsonb, $5, $6, $7, $8, now(), now(), now(), $9)
            """, conn, tx);
        insert.Parameters.AddWithValue(id);
        insert.Parameters.AddWithValue(tenantId);
        insert.Parameters.AddWithValue(userId);
        insert.Parameters.AddWithValue(JsonSerializer.Serialize(kept, Json));
        insert.Parameters.AddWithValue(observedAt.ToUniversalTime());
        insert.Parameters.AddWithValue((short)observedAt.Offset.TotalMinutes);
        insert.Parameters.Add(new NpgsqlParameter { Value = (object?)timeZone ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        insert.Parameters.AddWithValue(actor);
        insert.Parameters.Add(new NpgsqlParameter { Value = (object?)conversation ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await insert.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
        Wake();
        return id;
    }

    /// <summary>True when the user may queue another job (checked before paying for a model reply).</summary>
    public async Task<bool> HasRoomAsync(Guid tenantId, string userId, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        return await HasRoomAsync(conn, null, tenantId, userId, ct);
    }

    /// <summary>The 429 for a full queue, with a Retry-After of about one job's run so clients back off.</summary>
    public static ProblemDetails QueueFull(HttpResponse response)
    {
        response.Headers.RetryAfter = "5";
        return QueueFull();
    }

    public static ProblemDetails QueueFull() => new()
    {
        Status = StatusCodes.Status429TooManyRequests,
        Title = "Too much learning queued",
        Detail = "This user (or tenant) has as many learning jobs waiting as allowed; retry once some have run (GET /v1/users/{user_id}/learning lists them).",
    };

    /// <summary>The user's pending, running and failed jobs, oldest first, after <paramref name="after"/>.</summary>
    public async Task<List<LearningJobInfo>> ListAsync(Guid tenantId, string userId, string? status, Guid? after, int take, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            SELECT id, status, attempts, created_at, updated_at, CASE WHEN status = 'pending' THEN run_after END, last_error,
                   jsonb_array_length(messages)
            FROM learning_jobs
            WHERE tenant_id = $1 AND user_id = $2 AND ($3::text IS NULL OR status = $3) AND ($4::uuid IS NULL OR id > $4)
            ORDER BY id LIMIT $5
            """, conn);
        cmd.Parameters.AddWithValue(tenantId);
        cmd.Parameters.AddWithValue(userId);
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)status ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)after ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        cmd.Parameters.AddWithValue(take);
        var jobs = new List<LearningJobInfo>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            jobs.Add(new LearningJobInfo(reader.GetGuid(0), reader.GetString(1), reader.GetInt32(2), reader.GetFieldValue<DateTimeOffset>(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5),
                reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetInt32(7)));
        return jobs;
    }

    /// <summary>
    /// Claims the next due job: a pending one whose time has come, or a running one whose worker's lease ran out
    /// (it died). Jobs whose lease ran out on their last attempt are marked failed first; old failed jobs deleted.
    /// </summary>
    public async Task<ClaimedLearningJob?> ClaimAsync(CancellationToken ct)
    {
        var o = O;
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using (var sweep = new NpgsqlCommand("""
            UPDATE learning_jobs SET status = 'failed', locked_until = NULL, claim_token = NULL, updated_at = now(),
                   last_error = 'Attempt ' || attempts || ' stopped without finishing (its worker died; the lease ran out).'
            WHERE status = 'running' AND locked_until < now() AND attempts >= $1
            """, conn))
        {
            sweep.Parameters.AddWithValue(o.MaxAttempts);
            await sweep.ExecuteNonQueryAsync(ct);
        }
        await using (var purge = new NpgsqlCommand(
            "DELETE FROM learning_jobs WHERE status = 'failed' AND updated_at < now() - $1 * interval '1 hour'", conn))
        {
            purge.Parameters.AddWithValue(o.FailedRetentionHours);
            await purge.ExecuteNonQueryAsync(ct);
        }

        var token = Guid.NewGuid();
        await using var claim = new NpgsqlCommand("""
            UPDATE learning_jobs j SET status = 'running', attempts = j.attempts + 1, claim_token = $1,
                   locked_until = now() + $2 * interval '1 second', updated_at = now()
            FROM (SELECT id FROM learning_jobs
                  WHERE (status = 'pending' AND run_after <= now()) OR (status = 'running' AND locked_until < now() AND attempts < $3)
                  ORDER BY run_after, id LIMIT 1
                  FOR UPDATE SKIP LOCKED) next
            WHERE j.id = next.id
            RETURNING j.id, j.tenant_id, j.user_id, j.messages::text, j.observed_at, j.observed_offset_minutes, j.time_zone, j.actor, j.attempts, j.conversation
            """, conn);
        claim.Parameters.AddWithValue(token);
        claim.Parameters.AddWithValue(o.TimeoutSeconds + o.LeaseGraceSeconds);
        claim.Parameters.AddWithValue(o.MaxAttempts);
        await using var reader = await claim.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        var offset = TimeSpan.FromMinutes(reader.GetInt16(5));
        return new ClaimedLearningJob(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2),
            JsonSerializer.Deserialize<List<ConversationMessage>>(reader.GetString(3), Json)!,
            reader.GetFieldValue<DateTimeOffset>(4).ToOffset(offset), reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetString(7),
            reader.GetInt32(8), token, reader.IsDBNull(9) ? null : reader.GetString(9));
    }

    /// <summary>
    /// Deletes the job if this claim still holds it, inside the learner's write transaction (under the owner's
    /// lock). False when the job is gone (the user was erased) or was claimed again elsewhere: write nothing.
    /// </summary>
    public static async Task<bool> CompleteAsync(ClaimedLearningJob job, NpgsqlConnection conn, NpgsqlTransaction? tx, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("DELETE FROM learning_jobs WHERE id = $1 AND claim_token = $2", conn, tx);
        cmd.Parameters.AddWithValue(job.Id);
        cmd.Parameters.AddWithValue(job.ClaimToken);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>Finishes a job that had nothing to write.</summary>
    public async Task CompleteAsync(ClaimedLearningJob job, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await CompleteAsync(job, conn, null, ct);
    }

    /// <summary>Records a failed attempt: pending again after the backoff, or failed for good after the last attempt.</summary>
    public async Task FailAsync(ClaimedLearningJob job, string error, CancellationToken ct)
    {
        var o = O;
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            UPDATE learning_jobs SET status = CASE WHEN attempts >= $3 THEN 'failed' ELSE 'pending' END,
                   run_after = now() + least($4 * power(2, attempts - 1), $5) * interval '1 second',
                   last_error = $6, locked_until = NULL, claim_token = NULL, updated_at = now()
            WHERE id = $1 AND claim_token = $2
            """, conn);
        cmd.Parameters.AddWithValue(job.Id);
        cmd.Parameters.AddWithValue(job.ClaimToken);
        cmd.Parameters.AddWithValue(o.MaxAttempts);
        cmd.Parameters.AddWithValue(o.RetryDelaySeconds);
        cmd.Parameters.AddWithValue(o.MaxRetryDelaySeconds);
        cmd.Parameters.AddWithValue(Cut(error, 2000));
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Gives a job back without counting the attempt (this replica is shutting down).</summary>
    public async Task ReleaseAsync(ClaimedLearningJob job, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            UPDATE learning_jobs SET status = 'pending', attempts = greatest(attempts - 1, 0), run_after = now(),
                   locked_until = NULL, claim_token = NULL, updated_at = now()
            WHERE id = $1 AND claim_token = $2
            """, conn);
        cmd.Parameters.AddWithValue(job.Id);
        cmd.Parameters.AddWithValue(job.ClaimToken);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Waits for an enqueue on this replica or the poll interval, whichever comes first.</summary>
    public async Task WaitForWorkAsync(CancellationToken ct) => await _wake.WaitAsync(TimeSpan.FromSeconds(O.PollIntervalSeconds), ct);

    private void Wake()
    {
        try { _wake.Release(); }
        catch (SemaphoreFullException) { } // already signalled
    }

    private async Task<bool> HasRoomAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, Guid tenantId, string userId, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT count(*) FILTER (WHERE user_id = $2), count(*)
            FROM learning_jobs WHERE tenant_id = $1 AND status IN ('pending', 'running')
            """, conn, tx);
        cmd.Parameters.AddWithValue(tenantId);
        cmd.Parameters.AddWithValue(userId);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return reader.GetInt64(0) < O.MaxPendingPerUser && reader.GetInt64(1) < O.MaxPendingPerTenant;
    }

    private static string Cut(string text, int max) =>
        text.Length <= max ? text : text[..(char.IsHighSurrogate(text[max - 1]) ? max - 1 : max)];
}
