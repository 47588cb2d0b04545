using MemoryService.Data;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace MemoryService.Tests.Infrastructure;

/// <summary>
/// One PostgreSQL server per test run: MEMORY_TEST_DATABASE (a connection string to a server with
/// pgvector, as the GitHub workflow uses) or a throwaway cluster started by the service's own
/// EmbeddedPostgres code. Each test class gets a database of its own, so classes run in parallel.
/// </summary>
public static class TestDatabase
{
    private static readonly Lazy<Server> Shared = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);

    private sealed record Server(EmbeddedPostgres? Cluster, string? External, string Root);

    public static string CreateDatabase()
    {
        var name = "t_" + Guid.NewGuid().ToString("N")[..16];
        var server = Shared.Value;
        if (server.Cluster is not null)
        {
            server.Cluster.EnsureDatabase(name);
            return server.Cluster.ConnectionString(name);
        }
        using var conn = new NpgsqlConnection(server.External);
        conn.Open();
        using var cmd = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", conn);
        cmd.ExecuteNonQuery();
        return new NpgsqlConnectionStringBuilder(server.External) { Database = name }.ConnectionString;
    }

    public static void DropDatabase(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        var server = Shared.Value;
        if (server.Cluster is not null) { server.Cluster.DropDatabase(name); return; }
        NpgsqlConnection.ClearAllPools();
        using var conn = new NpgsqlConnection(server.External);
        conn.Open();
        using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", conn);
        cmd.ExecuteNonQuery();
    }

    private static Server Start()
    {
        var external = Environment.GetEnvironmentVariable("MEMORY_TEST_DATABASE");
        if (!string.IsNullOrWhiteSpace(external)) return new Server(null, external, "");
        var root = Path.Combine(Path.GetTempPath(), $"memsvc-tests-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}");
        var cluster = EmbeddedPostgres.Start(Path.Combine(root, "pgdata"), null, "postgres", TimeSpan.FromSeconds(90), NullLogger.Instance);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            cluster.Stop();
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return new Server(cluster, null, root);
    }
}
