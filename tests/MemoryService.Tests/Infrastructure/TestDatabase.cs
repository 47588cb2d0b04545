using DotNet.Testcontainers.Builders;
using MemoryService.Data;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Testcontainers.PostgreSql;

namespace MemoryService.Tests.Infrastructure;

/// <summary>Where the test run's PostgreSQL server comes from.</summary>
public enum TestDatabaseSource
{
    /// <summary>MEMORY_TEST_DATABASE: a connection string to a server with pgvector.</summary>
    External,
    /// <summary>A pgvector/pgvector:pg17 container (Testcontainers), when a Docker engine is reachable.</summary>
    Container,
    /// <summary>A throwaway cluster started by the service's own EmbeddedPostgres code.</summary>
    Embedded,
}

/// <summary>
/// One PostgreSQL server per test run, chosen by <see cref="Choose"/>; the choice is written to the test output
/// (stderr). Each test class gets a database of its own, so classes run in parallel.
/// </summary>
public static class TestDatabase
{
    public const string ContainerImage = "pgvector/pgvector:pg17";

    private static readonly Lazy<Server> Shared = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>MEMORY_TEST_DATABASE wins; else a container when Docker answers; else the embedded cluster.</summary>
    public static TestDatabaseSource Choose(string? externalConnectionString, bool dockerReachable) =>
        !string.IsNullOrWhiteSpace(externalConnectionString) ? TestDatabaseSource.External
        : dockerReachable ? TestDatabaseSource.Container
        : TestDatabaseSource.Embedded;

    /// <summary>The source this run uses (starting the server on first use).</summary>
    public static TestDatabaseSource Source => Shared.Value.Source;

    private sealed record Server(TestDatabaseSource Source, EmbeddedPostgres? Cluster, string? External);

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
        var container = string.IsNullOrWhiteSpace(external) ? TryBuildContainer() : null;
        var source = Choose(external, container is not null);
        Server server;
        switch (source)
        {
            case TestDatabaseSource.External:
                server = new Server(source, null, external);
                break;
            case TestDatabaseSource.Container:
                container!.StartAsync().GetAwaiter().GetResult();
                AppDomain.CurrentDomain.ProcessExit += (_, _) => container.DisposeAsync().AsTask().GetAwaiter().GetResult();
                server = new Server(source, null, container.GetConnectionString());
                break;
            default:
                var root = Path.Combine(Path.GetTempPath(), $"memsvc-tests-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}");
                var cluster = EmbeddedPostgres.Start(Path.Combine(root, "pgdata"), null, "postgres", TimeSpan.FromSeconds(90), NullLogger.Instance);
                AppDomain.CurrentDomain.ProcessExit += (_, _) =>
                {
                    cluster.Stop();
                    try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
                };
                server = new Server(source, cluster, null);
                break;
        }
        Console.Error.WriteLine($"TestDatabase: {Describe(source)}");
        return server;
    }

    /// <summary>The container, not yet started; null when no Docker engine answers (Build() then throws at once).</summary>
    public static PostgreSqlContainer? TryBuildContainer()
    {
        try { return new PostgreSqlBuilder(ContainerImage).Build(); }
        catch (DockerUnavailableException) { return null; }
    }

    public static string Describe(TestDatabaseSource source) => source switch
    {
        TestDatabaseSource.External => "MEMORY_TEST_DATABASE (an external server)",
        TestDatabaseSource.Container => $"a {ContainerImage} container (a Docker engine is reachable)",
        _ => "the embedded PostgreSQL cluster (no Docker engine reachable)",
    };
}
