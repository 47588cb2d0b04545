using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace MemoryService.Webhooks;

/// <summary>A registered endpoint as the API shows it (never its secret).</summary>
public sealed record WebhookInfo(Guid Id, string Url, IReadOnlyList<string> Events, string? Description, DateTimeOffset CreatedAt,
    bool Enabled, int ConsecutiveFailures, DateTimeOffset? DisabledAt, string? DisabledReason);

/// <summary>One delivery of an event to an endpoint: its latest attempt and, while pending, when the next one is due.</summary>
public sealed record DeliveryInfo(long Id, Guid EventId, string EventType, string Status, int Attempts, int? StatusCode, int? DurationMs,
    string? Error, DateTimeOffset? NextAttemptAt, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>Endpoints and their deliveries, always keyed by tenant.</summary>
public sealed class WebhookStore(NpgsqlDataSource dataSource, IOptions<WebhooksOptions> options)
{
    private const string Columns = "id, url, events, description, created_at, consecutive_failures, disabled_at, disabled_reason";

    /// <summary>A signing secret in the Standard Webhooks form: whsec_ and 32 random bytes in base64.</summary>
    public static string NewSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>Registers an endpoint; null when the tenant already has Webhooks:MaxWebhooksPerTenant.</summary>
    public async Task<(WebhookInfo Webhook, string Secret)?> CreateAsync(Guid tenantId, string url, IReadOnlyList<string> events,
        string? description, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // The count and the insert under one per-tenant lock, so two concurrent creates cannot both pass the cap.
        await using (var lockTenant = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended('webhook-endpoints/' || $1::text, 0))", conn, tx))
        {
            lockTenant.Parameters.AddWithValue(tenantId);
            await lockTenant.ExecuteNonQueryAsync(ct);
        }
        await using (var count = new NpgsqlCommand("SELECT count(*) FROM webhooks WHERE tenant_id = $1", conn, tx))
        {
            count.Parameters.AddWithValue(tenantId);
            if ((long)(await count.ExecuteScalarAsync(ct))! >= options.Value.MaxWebhooksPerTenant) return null;
        }
        var secret = NewSecret();
        await using var insert = new NpgsqlCommand($"""
            INSERT INTO webhooks (id, tenant_id, url, events, description, secret, created_at) VALUES ($1, $2, $3, $4, $5, $6, now())
            RETURNING {Columns}
            """, conn, tx);
        insert.Parameters.AddWithValue(Guid.CreateVersion7());
        insert.Parameters.AddWithValue(tenantId);
        insert.Parameters.AddWithValue(url);
        insert.Parameters.AddWithValue(events.ToArray());
        insert.Parameters.Add(new NpgsqlParameter { Value = (object?)description ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        insert.Parameters.AddWithValue(secret);
        WebhookInfo created;
        await using (var reader = await insert.ExecuteReaderAsync(ct))
        {
            await reader.ReadAsync(ct);
            created = Read(reader);
        }
        await tx.CommitAsync(ct);
        return (created, secret);
    }

    /// <summary>All of the tenant's endpoints (at most Webhooks:MaxWebhooksPerTenant), oldest first.</summary>
    public async Task<List<WebhookInfo>> ListAsync(Guid tenantId, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand($"SELECT {Columns} FROM webhooks WHERE tenant_id = $1 ORDER BY created_at, id LIMIT $2", conn);
        cmd.Parameters.AddWithValue(tenantId);
        cmd.Parameters.AddWithValue(options.Value.MaxWebhooksPerTenant);
        var list = new List<WebhookInfo>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) list.Add(Read(reader));
        return list;
    }

    public async Task<WebhookInfo?> GetAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand($"SELECT {Columns} FROM webhooks WHERE tenant_id = $1 AND id = $2", conn);
        cmd.Parameters.AddWithValue(tenantId);
        cmd.Parameters.AddWithValue(id);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    /// <summary>Deletes the endpoint and its deliveries (pending ones are never sent); false when there is no such endpoint.</summary>
    public async Task<bool> DeleteAsync(Guid tenantId, Guid id, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand("DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2", conn);
        cmd.Parameters.AddWithValue(tenantId);
        cmd.Parameters.AddWithValue(id);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>The endpoint's deliveries, newest first, before delivery <paramref name="before"/>; null when no such endpoint.</summary>
    public async Task<List<DeliveryInfo>?> DeliveriesAsync(Guid tenantId, Guid id, long? before, string? status, int take, CancellationToken ct)
    {
        if (await GetAsync(tenantId, id, ct) is null) return null;
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            SELECT d.id, d.event_id, e.type, d.status, d.attempts, d.last_status_code, d.last_duration_ms, d.last_error,
                   CASE WHEN d.status IN ('pending', 'running') THEN d.next_attempt_at END, d.created_at, d.updated_at
            FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
            WHERE d.webhook_id = $1 AND ($2::bigint IS NULL OR d.id < $2) AND ($3::text IS NULL OR d.status = $3)
            ORDER BY d.id DESC LIMIT $4
            """, conn);
        cmd.Parameters.AddWithValue(id);
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)before ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)status ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.AddWithValue(take);
        var list = new List<DeliveryInfo>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            list.Add(new DeliveryInfo(reader.GetInt64(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4),
                reader.IsDBNull(5) ? null : reader.GetInt32(5), reader.IsDBNull(6) ? null : reader.GetInt32(6),
                reader.IsDBNull(7) ? null : reader.GetString(7), reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
                reader.GetFieldValue<DateTimeOffset>(9), reader.GetFieldValue<DateTimeOffset>(10)));
        return list;
    }

    private static WebhookInfo Read(NpgsqlDataReader r) => new(r.GetGuid(0), r.GetString(1), r.GetFieldValue<string[]>(2),
        r.IsDBNull(3) ? null : r.GetString(3), r.GetFieldValue<DateTimeOffset>(4), r.IsDBNull(6), r.GetInt32(5),
        r.IsDBNull(6) ? null : r.GetFieldValue<DateTimeOffset>(6), r.IsDBNull(7) ? null : r.GetString(7));
}
