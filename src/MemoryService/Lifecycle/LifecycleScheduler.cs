using MemoryService.Memories;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using Npgsql;

namespace MemoryService.Lifecycle;

/// <summary>
/// Runs each tenant's automatic lifecycle steps for owners whose memories changed since their last run
/// (Lifecycle:Enabled, every Lifecycle:IntervalMinutes). One replica sweeps at a time (a session advisory lock; the
/// others skip that round). Each owner's run writes the owner version it leaves behind (lifecycle_state) in its own
/// transaction, so a sweep killed midway resumes with the owners it had not reached, and never repeats one it finished.
/// </summary>
public sealed class LifecycleScheduler(IServiceScopeFactory scopes, NpgsqlDataSource dataSource, IOptions<LifecycleOptions> options,
    ILogger<LifecycleScheduler> logger) : BackgroundService
{
    private const long SweepLockKey = 0x4D656D5376634C; // "MemSvcL"
    public const string Actor = "lifecycle";

    /// <summary>Owners whose version moved since their last run (knowledge only where the tenant has some), oldest tenant first.</summary>
    private const string ChangedOwnersSql = """
        SELECT tenant_id, user_id FROM (
            SELECT u.tenant_id, u.id AS user_id FROM users u
            LEFT JOIN lifecycle_state s ON s.tenant_id = u.tenant_id AND s.user_id = u.id
            WHERE s.version IS DISTINCT FROM u.memory_version
            UNION ALL
            SELECT t.id, NULL FROM tenants t
            LEFT JOIN lifecycle_state s ON s.tenant_id = t.id AND s.user_id = ''
            WHERE s.version IS DISTINCT FROM t.knowledge_version
              AND EXISTS (SELECT 1 FROM memories m WHERE m.tenant_id = t.id AND m.user_id IS NULL)
        ) changed ORDER BY tenant_id, user_id NULLS FIRST LIMIT $1
        """;

    /// <summary>
    /// One sweep: the number of owners run, or null when another replica holds the sweep. Each owner is checked again
    /// under its lock, so an owner another sweep finished meanwhile is skipped.
    /// </summary>
    public async Task<int?> SweepAsync(CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using (var tryLock = new NpgsqlCommand("SELECT pg_try_advisory_lock($1)", connection))
        {
            tryLock.Parameters.AddWithValue(SweepLockKey);
            if (!(bool)(await tryLock.ExecuteScalarAsync(ct))!) return null;
        }
        try
        {
            var owners = new List<Owner>();
            await using (var cmd = new NpgsqlCommand(ChangedOwnersSql, connection))
            {
                cmd.Parameters.AddWithValue(options.Value.OwnersPerSweep);
                await using var reader = await cmd.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct)) owners.Add(new Owner(reader.GetGuid(0), reader.IsDBNull(1) ? null : reader.GetString(1)));
            }
            var ran = 0;
            foreach (var owner in owners)
            {
                ct.ThrowIfCancellationRequested();
                if (await RunOwnerAsync(owner, ct)) ran++;
            }
            return ran;
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", connection);
            unlock.Parameters.AddWithValue(SweepLockKey);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    private async Task<bool> RunOwnerAsync(Owner owner, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var runner = scope.ServiceProvider.GetRequiredService<LifecycleRunner>();
        var (settings, _) = await scope.ServiceProvider.GetRequiredService<LifecycleSettingsStore>().GetAsync(owner.TenantId, ct);
        var db = scope.ServiceProvider.GetRequiredService<MemoryService.Data.MemoryDb>();
        var report = await runner.RunAsync(owner, settings.AutoSteps.ToHashSet(), dryRun: false, settings, Actor, ct,
            beforeCommit: tx => RecordAsync(db, tx, owner, ct), skip: tx => IsCurrentAsync(db, tx, owner, ct));
        return report is not null && !ReferenceEquals(report, LifecycleReport.Skipped);
    }

    private static NpgsqlCommand Command(MemoryService.Data.MemoryDb db, IDbContextTransaction tx, string sql, Owner owner)
    {
        var cmd = new NpgsqlCommand(sql, (NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)tx.GetDbTransaction());
        cmd.Parameters.AddWithValue(owner.TenantId);
        cmd.Parameters.AddWithValue(owner.UserId ?? "");
        return cmd;
    }

    private const string VersionSql = """
        SELECT CASE WHEN $2 = '' THEN (SELECT knowledge_version FROM tenants WHERE id = $1)
                    ELSE (SELECT memory_version FROM users WHERE tenant_id = $1 AND id = $2) END
        """;

    /// <summary>Whether the owner's last run already saw its current version (another sweep got there first).</summary>
    private static async Task<bool> IsCurrentAsync(MemoryService.Data.MemoryDb db, IDbContextTransaction tx, Owner owner, CancellationToken ct)
    {
        await using var cmd = Command(db, tx, $"SELECT EXISTS (SELECT 1 FROM lifecycle_state WHERE tenant_id = $1 AND user_id = $2 AND version = ({VersionSql}))", owner);
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>The version the run leaves behind (its own writes included), in the run's transaction.</summary>
    private static async Task RecordAsync(MemoryService.Data.MemoryDb db, IDbContextTransaction tx, Owner owner, CancellationToken ct)
    {
        await using var cmd = Command(db, tx, $"""
            INSERT INTO lifecycle_state (tenant_id, user_id, version, ran_at) SELECT $1, $2, v, now() FROM ({VersionSql}) AS x(v) WHERE v IS NOT NULL
            ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = excluded.version, ran_at = excluded.ran_at
            """, owner);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled) return;
        var period = TimeSpan.FromMinutes(options.Value.IntervalMinutes);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(period, stoppingToken);
                if (await SweepAsync(stoppingToken) is { } ran && ran > 0) logger.LogInformation("Lifecycle sweep ran {Count} owner(s)", ran);
            }
            catch (OperationCanceledException) { break; }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or DbUpdateException
                                       or MemoryService.Hosting.DependencyUnavailableException)
            {
                // The next sweep starts from lifecycle_state again: nothing done is lost, nothing is done twice.
                logger.LogWarning("Lifecycle sweep stopped: {Message}", ex.Message);
            }
        }
    }
}
