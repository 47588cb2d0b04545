using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Hosting;
using Npgsql;

namespace MemoryService.Bench;

/// <summary>
/// What a lifecycle run does to a long-running profile (<see cref="LifecycleProfiles"/>): two identical users get the
/// profile through the batch API, their creation times set to when each memory was observed (a year of use, so
/// forgetting sees its age); one is measured as it is, the other after one lifecycle run with every step. Reported per
/// user: active memories, context tokens summed over the gold questions at a fixed budget, coverage (share of questions
/// whose current answer is in the context), and gold answers no longer stated by any active memory.
/// Usage: lifecycle [--profile duplicate-heavy|varied|all] [--budget 800] [--set Key=Value ...] (the service is started here)
/// </summary>
public static class LifecycleBenchmark
{
    private static readonly JsonSerializerOptions Json = CreateJson();

    public static int Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(string[] args)
    {
        var profiles = (ServiceHost.Arg(args, "--profile") ?? "all") is "all" ? ["duplicate-heavy", "varied"] : new[] { ServiceHost.Arg(args, "--profile")! };
        var budgets = (ServiceHost.Arg(args, "--budget") ?? "400,800,1200,2000").Split(',').Select(int.Parse).Order().ToArray();
        await using var host = await ServiceHost.StartAsync(args);
        if (host.DataDirectory is not { } dir) throw new ArgumentException("lifecycle needs the service started here (it sets creation times in the database)");
        var pg = new NpgsqlConnectionStringBuilder
        {
            Host = Path.Combine(dir, "run"), Username = "postgres", Database = "memory", Pooling = false,
            Password = File.ReadAllText(Path.Combine(dir, "pgdata.secret")).Trim(),
        }.ConnectionString;
        using var http = host.CreateClient();
        var run = Guid.NewGuid().ToString("N")[..6];
        var end = DateTimeOffset.UtcNow;

        Console.WriteLine($"budgets {string.Join(", ", budgets)} tokens; one lifecycle run with consolidate, forget, promote (tenant defaults)");
        Console.WriteLine();
        Console.WriteLine("| profile | memories | questions | active before → after | change | budget | context tokens before → after | change | coverage before → after | gold not stated after | gold memories forgotten |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        var results = new List<(string Name, List<(int Budget, long TokensBefore, int CoveredBefore, long TokensAfter, int CoveredAfter)> Measured)>();
        int Gold(string name) => LifecycleProfiles.Generate(name, end).Gold.Count;
        foreach (var name in profiles)
        {
            var profile = LifecycleProfiles.Generate(name, end);
            var before = $"lc-{name}-before-{run}";
            var after = $"lc-{name}-after-{run}";
            foreach (var user in new[] { before, after }) await IngestAsync(http, user, profile);
            // after the background embedding, which writes the same rows
            await ServiceHost.WaitForEmbeddingsAsync(http);
            foreach (var user in new[] { before, after }) await BackdateAsync(pg, user);

            var report = await (await Ok(http.PostAsJsonAsync($"/v1/users/{after}/lifecycle/run", new { }, Json))).Content.ReadFromJsonAsync<JsonElement>();
            var merged = report.GetProperty("merged").EnumerateArray().Sum(m => m.GetProperty("from").GetArrayLength());
            var archived = report.GetProperty("archived").GetArrayLength();
            var promoted = report.GetProperty("promoted").GetArrayLength();
            Console.Error.WriteLine($"{name}: lifecycle archived {merged} by merging ({report.GetProperty("merged").GetArrayLength()} clusters), " +
                $"forgot {archived}, promoted {promoted} routine(s)");

            var activeBefore = await ScalarAsync(pg, "SELECT count(*) FROM memories WHERE user_id = $1 AND status = 'active' AND valid_to IS NULL", before);
            var activeAfter = await ScalarAsync(pg, "SELECT count(*) FROM memories WHERE user_id = $1 AND status = 'active' AND valid_to IS NULL", after);
            var (lost, forgotten) = await GoldKeptAsync(pg, after, profile);
            var measured = new List<(int Budget, long TokensBefore, int CoveredBefore, long TokensAfter, int CoveredAfter)>();
            foreach (var budget in budgets)
            {
                var (tokensBefore, coveredBefore) = await MeasureAsync(http, before, profile, budget);
                var (tokensAfter, coveredAfter) = await MeasureAsync(http, after, profile, budget);
                measured.Add((budget, tokensBefore, coveredBefore, tokensAfter, coveredAfter));
                Console.WriteLine($"| {name} | {profile.Memories.Count} | {profile.Gold.Count} | {activeBefore} → {activeAfter} | {Change(activeBefore, activeAfter)} | {budget} | " +
                    $"{tokensBefore} → {tokensAfter} | {Change(tokensBefore, tokensAfter)} | {Share(coveredBefore, profile)} → {Share(coveredAfter, profile)} | " +
                    $"{(lost.Count == 0 ? "0" : $"{lost.Count} ({string.Join(", ", lost)})")} | {forgotten} |");
            }
            results.Add((name, measured));
        }

        // The context fills whatever budget it is given, so at one budget the tokens hardly move; what the lifecycle
        // buys is coverage per token. For each budget: the smallest budget at which the consolidated user's context
        // covers at least as many questions, and the tokens that takes.
        Console.WriteLine();
        Console.WriteLine("| profile | before: budget, tokens, coverage | after, smallest budget with equal or better coverage: budget, tokens, coverage | tokens change |");
        Console.WriteLine("| --- | --- | --- | --- |");
        foreach (var (name, measured) in results)
            foreach (var b in measured)
                if (measured.FirstOrDefault(a => a.CoveredAfter >= b.CoveredBefore) is { Budget: > 0 } a)
                    Console.WriteLine($"| {name} | {b.Budget}, {b.TokensBefore}, {b.CoveredBefore}/{Gold(name)} | {a.Budget}, {a.TokensAfter}, {a.CoveredAfter}/{Gold(name)} | {Change(b.TokensBefore, a.TokensAfter)} |");
        return 0;
    }

    /// <summary>The profile through the batch API.</summary>
    private static async Task IngestAsync(HttpClient http, string user, Profile profile)
    {
        foreach (var chunk in profile.Memories.Chunk(1000))
            await Ok(http.PostAsJsonAsync($"/v1/users/{user}/memories/batch", new
            {
                items = chunk.Select(m => new { content = m.Content, kind = m.Kind, key = m.Key, importance = m.Importance, confidence = m.Confidence, observed_at = m.ObservedAt }),
            }, Json));
    }

    /// <summary>Each memory's creation time set to when it was observed, as if written over the year.</summary>
    private static async Task BackdateAsync(string pg, string user)
    {
        await ScalarAsync(pg, "WITH u AS (UPDATE memories SET created_at = observed_at, updated_at = observed_at, valid_from = observed_at WHERE user_id = $1 RETURNING 1) SELECT count(*) FROM u", user);
    }

    /// <summary>Context tokens summed over the gold questions, and which questions' answers the context contains.</summary>
    private static async Task<(long Tokens, int Covered)> MeasureAsync(HttpClient http, string user, Profile profile, int budget)
    {
        long tokens = 0;
        var covered = 0;
        foreach (var q in profile.Gold)
        {
            var body = await (await Ok(http.PostAsJsonAsync($"/v1/users/{user}/context", new { query = q.Question, token_budget = budget }, Json)))
                .Content.ReadFromJsonAsync<JsonElement>();
            tokens += body.GetProperty("token_count").GetInt32();
            if (body.GetProperty("system_prompt").GetString()!.Contains(q.Answer, StringComparison.OrdinalIgnoreCase)) covered++;
        }
        return (tokens, covered);
    }

    /// <summary>
    /// Gold answers that no active memory states after the run (a fact or preference: a memory with its key saying the
    /// answer; a routine: any memory saying it), and memories stating a current gold fact or preference that were
    /// forgotten (old routine events are meant to fade into the promoted routine, so they are not counted).
    /// </summary>
    private static async Task<(List<string> Lost, long Forgotten)> GoldKeptAsync(string pg, string user, Profile profile)
    {
        var lost = new List<string>();
        foreach (var q in profile.Gold)
            if (await ScalarAsync(pg, """
                    SELECT count(*) FROM memories WHERE user_id = $1 AND status = 'active' AND valid_to IS NULL
                    AND content ILIKE '%' || $2 || '%' AND ($3 = '' OR key = $3)
                    """, user, q.Answer, q.Key ?? "") == 0)
                lost.Add(q.Answer);
        long forgotten = 0;
        foreach (var q in profile.Gold.Where(g => g.Key is not null))
            forgotten += await ScalarAsync(pg, """
                SELECT count(*) FROM memories m JOIN memory_history h ON h.memory_id = m.id AND h.event = 'forgotten'
                WHERE m.user_id = $1 AND m.key = $2 AND m.content ILIKE '%' || $3 || '%'
                """, user, q.Key!, q.Answer);
        return (lost, forgotten);
    }

    private static string Change(long before, long after) =>
        before == 0 ? "n/a" : ((after - before) * 100.0 / before).ToString("+0.0;-0.0", CultureInfo.InvariantCulture) + "%";

    private static string Share(int covered, Profile p) => $"{covered}/{p.Gold.Count}";

    private static async Task<long> ScalarAsync(string pg, string sql, params object[] args)
    {
        await using var conn = new NpgsqlConnection(pg);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var a in args) cmd.Parameters.AddWithValue(a);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private static async Task<HttpResponseMessage> Ok(Task<HttpResponseMessage> request)
    {
        var response = await request;
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return response;
    }

    private static JsonSerializerOptions CreateJson()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        ApiConventions.Configure(o);
        return o;
    }
}
