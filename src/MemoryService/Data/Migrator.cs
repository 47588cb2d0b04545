using System.Reflection;
using Npgsql;

namespace MemoryService.Data;

/// <summary>
/// Applies the SQL files in Data/Migrations in name order, each in its own transaction (PostgreSQL DDL is
/// transactional, so a failing migration leaves the schema as it was), recorded in schema_migrations,
/// under an advisory lock so replicas starting together apply each migration once.
/// </summary>
public sealed class Migrator(NpgsqlDataSource dataSource, ILogger<Migrator> logger)
{
    private const long AdvisoryLockKey = 0x4D656D5376634D; // "MemSvcM"

    public static IReadOnlyList<(string Version, string Sql)> Migrations { get; } = LoadMigrations();

    public Task MigrateAsync(CancellationToken ct) => MigrateAsync(Migrations, ct);

    /// <summary>Applies <paramref name="migrations"/> not yet recorded (tests pass their own list).</summary>
    public async Task MigrateAsync(IReadOnlyList<(string Version, string Sql)> migrations, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await RequirePgvectorAsync(conn, ct);
        await Exec(conn, "SELECT pg_advisory_lock($1)", ct, AdvisoryLockKey);
        try
        {
            await Exec(conn, """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    text PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """, ct);
            var applied = new HashSet<string>();
            await using (var cmd = new NpgsqlCommand("SELECT version FROM schema_migrations", conn))
            await using (var reader = await cmd.ExecuteReaderAsync(ct))
                while (await reader.ReadAsync(ct)) applied.Add(reader.GetString(0));

            foreach (var (version, sql) in migrations.Where(m => !applied.Contains(m.Version)))
            {
                await using var tx = await conn.BeginTransactionAsync(ct);
                await using (var batch = new NpgsqlCommand(sql, conn, tx)) await batch.ExecuteNonQueryAsync(ct);
                await using (var record = new NpgsqlCommand("INSERT INTO schema_migrations (version) VALUES ($1)", conn, tx))
                {
                    record.Parameters.AddWithValue(version);
                    await record.ExecuteNonQueryAsync(ct);
                }
                await tx.CommitAsync(ct);
                logger.LogInformation("Applied migration {Version}", version);
            }
        }
        finally
        {
            await Exec(conn, "SELECT pg_advisory_unlock($1)", CancellationToken.None, AdvisoryLockKey);
        }
        // The vector type may have been created by this run: let pooled connections learn it.
        await conn.ReloadTypesAsync(ct);
    }

    /// <summary>True when every known migration is recorded (readiness).</summary>
    public async Task<bool> IsUpToDateAsync(CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand(
            "SELECT count(*) FROM schema_migrations WHERE version = ANY($1)", conn);
        cmd.Parameters.AddWithValue(Migrations.Select(m => m.Version).ToArray());
        try
        {
            return (long)(await cmd.ExecuteScalarAsync(ct))! == Migrations.Count;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return false;
        }
    }

    private static async Task RequirePgvectorAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'", conn);
        var version = await cmd.ExecuteScalarAsync(ct) as string;
        if (version is null)
            throw new InvalidOperationException(
                $"The PostgreSQL server at {conn.Host} does not have the pgvector extension ('vector') installed. " +
                "Install pgvector on that server (package postgresql-NN-pgvector) or unset ConnectionStrings:Memory " +
                "to use the embedded database.");
        // halfvec (0006_halfvec.sql) came with pgvector 0.7.0.
        if (!Version.TryParse(version, out var parsed) || parsed < new Version(0, 7))
            throw new InvalidOperationException(
                $"The PostgreSQL server at {conn.Host} has pgvector {version}; MemoryService needs 0.7.0 or later (half-precision " +
                "vectors). Upgrade the pgvector package on that server (scripts/prereqs.sh does it for the embedded database).");
    }

    private static async Task Exec(NpgsqlConnection conn, string sql, CancellationToken ct, params object[] args)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var a in args) cmd.Parameters.AddWithValue(a);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static List<(string, string)> LoadMigrations()
    {
        var asm = Assembly.GetExecutingAssembly();
        const string prefix = "MemoryService.Data.Migrations.";
        return asm.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n =>
            {
                using var reader = new StreamReader(asm.GetManifestResourceStream(n)!);
                return (n[prefix.Length..^4], reader.ReadToEnd());
            })
            .ToList();
    }
}
