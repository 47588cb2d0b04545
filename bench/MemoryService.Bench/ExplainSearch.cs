using MemoryService.Retrieval;
using Npgsql;

namespace MemoryService.Bench;

/// <summary>
/// EXPLAIN (ANALYZE, BUFFERS) of the service's own ranking statement (<see cref="SearchPipeline.RankingSql"/>,
/// no filters, default options) against a kept benchmark database: `load --data-dir DIR --keep-data`, then
/// `explain --data-dir DIR [--user ID] [--query TEXT]`. The query vector is another user's stored embedding.
/// </summary>
public static class ExplainSearch
{
    public static int Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(string[] args)
    {
        var dataDir = ServiceHost.Arg(args, "--data-dir") ?? throw new ArgumentException("explain needs --data-dir DIR (a kept benchmark database)");
        var query = ServiceHost.Arg(args, "--query") ?? "What food does the user like, sushi or ramen?";
        var o = new RetrievalOptions();
        // The kept database's own server, started with the service's code (stopped again at the end).
        using var pg = MemoryService.Data.EmbeddedPostgres.Start(Path.Combine(dataDir, "pgdata"), null, "memory",
            TimeSpan.FromSeconds(60), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var cs = new NpgsqlConnectionStringBuilder(pg.ConnectionString("memory")) { Options = "-c jit=off" };
        await using var conn = new NpgsqlConnection(cs.ConnectionString);
        await conn.OpenAsync();
        var user = ServiceHost.Arg(args, "--user")
            ?? (string)(await new NpgsqlCommand("SELECT user_id FROM memories WHERE user_id IS NOT NULL ORDER BY id LIMIT 1", conn).ExecuteScalarAsync())!;
        Guid tenant;
        string model;
        await using (var info = new NpgsqlCommand("SELECT tenant_id, embedding_model, (SELECT count(*) FROM memories) FROM memories WHERE user_id = $1 LIMIT 1", conn))
        {
            info.Parameters.AddWithValue(user);
            await using var r = await info.ExecuteReaderAsync();
            await r.ReadAsync();
            (tenant, model) = (r.GetGuid(0), r.GetString(1));
            Console.WriteLine($"user {user}, {r.GetInt64(2):N0} memories in the table, query \"{query}\"");
        }
        await using var vec = new NpgsqlCommand("SELECT embedding::real[] FROM memories WHERE user_id <> $1 AND embedding_model = $2 LIMIT 1", conn);
        vec.Parameters.AddWithValue(user);
        vec.Parameters.AddWithValue(model);
        var vector = (float[])(await vec.ExecuteScalarAsync())!;

        await using var cmd = new NpgsqlCommand("EXPLAIN (ANALYZE, BUFFERS) " + SearchPipeline.RankingSql(""), conn);
        foreach (var value in new object[] { tenant, user, true, model, query, vector, DateTimeOffset.UtcNow, o.Bm25K1, o.Bm25B,
                     o.FeedbackDocuments, o.FeedbackWeight, o.FeedbackTerms, o.CandidatesPerSignal })
            cmd.Parameters.AddWithValue(value);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) Console.WriteLine(reader.GetString(0));
        return 0;
    }
}
