using MemoryService.Memories;
using Npgsql;

namespace MemoryService.Learning;

/// <summary>A stored sighting of a behaviour signal: in which conversation, when, and the turn.</summary>
public sealed record SignalSighting(string Key, string Value, string Conversation, string Evidence, DateTimeOffset ObservedAt);

/// <summary>
/// The behaviour_signals table: sightings per owner, key, value and conversation. Learning reads the sightings
/// of the keys it saw before deciding, reads them again under the owner's lock before writing (a change means
/// decide again), and records or clears them in its own write transaction.
/// </summary>
public static class BehaviourSignalStore
{
    /// <summary>Rows per owner read at most; by construction an owner has fewer (values are closed lists, each below the repeat count).</summary>
    private const int MaxRows = 1000;

    public static async Task<List<SignalSighting>> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, Owner owner,
        IReadOnlyCollection<string> keys, CancellationToken ct)
    {
        var result = new List<SignalSighting>();
        if (keys.Count == 0) return result;
        await using var cmd = new NpgsqlCommand("""
            SELECT key, value, conversation, evidence, observed_at FROM behaviour_signals
            WHERE tenant_id = $1 AND user_id = $2 AND key = ANY($3)
            ORDER BY key, value, observed_at, conversation LIMIT $4
            """, connection, tx);
        cmd.Parameters.AddWithValue(owner.TenantId);
        cmd.Parameters.AddWithValue(owner.UserId!);
        cmd.Parameters.AddWithValue(keys.ToArray());
        cmd.Parameters.AddWithValue(MaxRows);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            result.Add(new SignalSighting(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetFieldValue<DateTimeOffset>(4)));
        return result;
    }

    /// <summary>Records sightings; the same conversation seen again counts once.</summary>
    public static async Task RecordAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Owner owner, IReadOnlyList<SignalSighting> sightings,
        CancellationToken ct)
    {
        foreach (var s in sightings)
        {
            await using var cmd = new NpgsqlCommand("""
                INSERT INTO behaviour_signals (tenant_id, user_id, key, value, conversation, evidence, observed_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING
                """, connection, tx);
            cmd.Parameters.AddWithValue(owner.TenantId);
            cmd.Parameters.AddWithValue(owner.UserId!);
            cmd.Parameters.AddWithValue(s.Key);
            cmd.Parameters.AddWithValue(s.Value);
            cmd.Parameters.AddWithValue(s.Conversation);
            cmd.Parameters.AddWithValue(s.Evidence);
            cmd.Parameters.AddWithValue(s.ObservedAt.ToUniversalTime());
            await cmd.ExecuteNonQueryAsync(ct);
        }
    }

    /// <summary>Clears the sightings of keys that now have a standing preference (promoted or stated explicitly).</summary>
    public static async Task ClearAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Owner owner, IReadOnlyCollection<string> keys,
        CancellationToken ct)
    {
        if (keys.Count == 0) return;
        await using var cmd = new NpgsqlCommand("DELETE FROM behaviour_signals WHERE tenant_id = $1 AND user_id = $2 AND key = ANY($3)", connection, tx);
        cmd.Parameters.AddWithValue(owner.TenantId);
        cmd.Parameters.AddWithValue(owner.UserId!);
        cmd.Parameters.AddWithValue(keys.ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Erasure and reset: every sighting of the user goes.</summary>
    public static async Task DeleteOwnerAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid tenantId, string userId, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("DELETE FROM behaviour_signals WHERE tenant_id = $1 AND user_id = $2", connection, tx);
        cmd.Parameters.AddWithValue(tenantId);
        cmd.Parameters.AddWithValue(userId);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
