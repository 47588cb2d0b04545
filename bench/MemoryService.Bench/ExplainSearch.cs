using MemoryService.Retrieval;
using Npgsql;
using Pgvector;

namespace MemoryService.Bench;

/// <summary>
/// EXPLAIN (ANALYZE, BUFFERS) of the service's own search statements (<see cref="MemoryIndex.OpenSql"/> and
/// <see cref="OwnerIndex.RowsSql"/>) against a kept benchmark database: `load --data-dir DIR --keep-data`, then
/// `explain --data-dir DIR [--user ID] [--query TEXT]`.
/// </summary>
public static class ExplainSearch
{
    public static int Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(string[] args)
    {
        var dataDir = ServiceHost.Arg(args, "--data-dir") ?? throw new ArgumentException("explain needs --data-dir DIR (a kept benchmark database)");
        var query = ServiceHost.Arg(args, "--query") ?? "What food does the user like, sushi or ramen?";
        // The kept database's own server, started with the service's code (stopped again at the end).
        using var pg = MemoryService.Data.EmbeddedPostgres.Start(Path.Combine(dataDir, "pgdata"), null, "memory",
            TimeSpan.FromSeconds(60), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var cs = new NpgsqlConnectionStringBuilder(pg.ConnectionString("memory")) { Options = "-c jit=off" };
        var builder = new NpgsqlDataSourceBuilder(cs.ConnectionString);
        builder.UseVector();
        await using var dataSource = builder.Build();
        await using var conn = await dataSource.OpenConnectionAsync();
        var user = ServiceHost.Arg(args, "--user")
            ?? (string)(await new NpgsqlCommand("SELECT user_id FROM memories WHERE user_id IS NOT NULL ORDER BY id LIMIT 1", conn).ExecuteScalarAsync())!;
        Guid tenant;
        await using (var info = new NpgsqlCommand("SELECT tenant_id, (SELECT count(*) FROM memories) FROM memories WHERE user_id = $1 LIMIT 1", conn))
        {
            info.Parameters.AddWithValue(user);
            await using var r = await info.ExecuteReaderAsync();
            await r.ReadAsync();
            tenant = r.GetGuid(0);
            Console.WriteLine($"user {user}, {r.GetInt64(1):N0} memories in the table, query \"{query}\"");
        }
        // A search is two statements: every request reads the owner's version with the query's lexemes; a request
        // whose cached index is stale (or not cached) then loads the owner's current rows.
        string model;
        Vector vector;
        await using (var vec = new NpgsqlCommand("SELECT embedding_model, embedding::vector FROM memories WHERE user_id <> $1 AND embedding IS NOT NULL LIMIT 1", conn))
        {
            vec.Parameters.AddWithValue(user);
            await using var r = await vec.ExecuteReaderAsync();
            await r.ReadAsync();
            (model, vector) = (r.GetString(0), r.GetFieldValue<Vector>(1)); // another user's stored vector as the query's
        }
        foreach (var (title, sql, values) in new (string, string, object[])[]
        {
            ("every search: versions and query analysis", MemoryIndex.OpenSql, [tenant, user, query]),
            ("an owner loaded into the cache: its current rows with vectors", OwnerIndex.RowsSql(false), [tenant, user]),
            ("an owner read for one request: its current rows with their cosine to the query", OwnerIndex.QueryRowsSql(false), [tenant, user, model, vector, false]),
        })
        {
            Console.WriteLine($"-- {title}");
            await using var cmd = new NpgsqlCommand("EXPLAIN (ANALYZE, BUFFERS) " + sql, conn);
            foreach (var value in values) cmd.Parameters.AddWithValue(value);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync()) Console.WriteLine(reader.GetString(0));
        }

        // What a cache miss costs in the service: a full load of each of the first users' indexes, timed.
        var users = new List<string>();
        await using (var list = new NpgsqlCommand("SELECT id FROM users WHERE tenant_id = $1 ORDER BY id LIMIT 50", conn))
        {
            list.Parameters.AddWithValue(tenant);
            await using var r = await list.ExecuteReaderAsync();
            while (await r.ReadAsync()) users.Add(r.GetString(0));
        }
        foreach (var pass in new[] { "first", "second" })
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            var cpu = Environment.TickCount64;
            var process = System.Diagnostics.Process.GetCurrentProcess();
            var before = process.TotalProcessorTime;
            long rows = 0;
            foreach (var u in users)
                rows += (await OwnerIndex.LoadAsync(conn, new MemoryService.Memories.Owner(tenant, u), null, DateTimeOffset.UtcNow, CancellationToken.None)).Count;
            process.Refresh();
            Console.WriteLine($"full index load, {pass} pass: {users.Count} users, {rows / Math.Max(1, users.Count)} rows each, " +
                $"{sw.Elapsed.TotalMilliseconds / users.Count:F2} ms per load, {(process.TotalProcessorTime - before).TotalMilliseconds / users.Count:F2} ms CPU in this process");
        }
        return 0;
    }
}
