using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Hosting;

namespace MemoryService.Bench;

/// <summary>
/// Context build latency over the real HTTP API: one user with 1,000 memories of mixed kinds, then
/// POST /v1/users/{id}/context with varied queries, sequentially; p50/p95/p99 after a warm-up.
/// </summary>
public static class ContextBenchmark
{
    private static readonly string[] Topics =
    [
        "hiking in the Alps", "Italian cooking", "running a half marathon", "learning Japanese", "jazz concerts",
        "gardening tomatoes", "a trip to Lisbon", "allergic to peanuts", "working as a nurse", "playing chess online",
        "adopting a rescue dog", "building a gaming PC", "reading science fiction", "sailing on weekends", "a new job in Berlin",
    ];

    public static int Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(string[] args)
    {
        var requests = int.TryParse(ServiceHost.Arg(args, "--requests"), out var r) ? r : 1000;
        var warmup = int.TryParse(ServiceHost.Arg(args, "--warmup"), out var w) ? w : 100;
        var budget = int.TryParse(ServiceHost.Arg(args, "--budget"), out var b) ? b : 800;
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        ApiConventions.Configure(json);
        json.UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Skip;

        await using var host = await ServiceHost.StartAsync(args);
        using var http = host.CreateClient();
        var user = "bench-" + Guid.NewGuid().ToString("N")[..8];

        // 1. seed 1,000 memories: preferences, facts and events about varied topics, spread over two years
        string[] kinds = ["preference", "fact", "fact", "event"];
        var random = new Random(42);
        var items = Enumerable.Range(0, 1000).Select(i => new
        {
            content = $"{Topics[i % Topics.Length]}: note {i} about {Topics[random.Next(Topics.Length)]} and {Topics[random.Next(Topics.Length)]}",
            kind = kinds[i % kinds.Length],
            importance = Math.Round(random.NextDouble(), 2),
            observed_at = DateTimeOffset.UtcNow.AddDays(-random.Next(730)),
        }).ToList();
        var seed = Stopwatch.StartNew();
        (await http.PostAsJsonAsync($"/v1/users/{user}/memories/batch", new { items }, json)).EnsureSuccessStatusCode();
        await ServiceHost.WaitForEmbeddingsAsync(http);
        Console.WriteLine($"seeded 1,000 memories in {seed.Elapsed.TotalSeconds:0.0} s");

        // 2. warm up, then time each request end to end (client side, sequential)
        async Task<(double Ms, int Tokens, int Memories)> OnceAsync(int i)
        {
            var query = $"What do you remember about {Topics[i % Topics.Length]} and {Topics[(i * 7 + 3) % Topics.Length]}?";
            var start = Stopwatch.GetTimestamp();
            using var response = await http.PostAsJsonAsync($"/v1/users/{user}/context", new { query, token_budget = budget }, json);
            var body = await response.Content.ReadFromJsonAsync<JsonElement>(json);
            var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            response.EnsureSuccessStatusCode();
            return (ms, body.GetProperty("token_count").GetInt32(), body.GetProperty("memories").GetArrayLength());
        }
        for (var i = 0; i < warmup; i++) await OnceAsync(i);
        var samples = new List<(double Ms, int Tokens, int Memories)>(requests);
        for (var i = 0; i < requests; i++) samples.Add(await OnceAsync(i + warmup));

        var sorted = samples.Select(s => s.Ms).Order().ToArray();
        double P(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        Console.WriteLine($"context build over HTTP: {requests} requests after {warmup} warm-up, budget {budget} tokens, 1,000 memories");
        Console.WriteLine($"  p50 {P(0.50):0.00} ms   p95 {P(0.95):0.00} ms   p99 {P(0.99):0.00} ms   mean {sorted.Average():0.00} ms   max {sorted[^1]:0.00} ms");
        Console.WriteLine($"  mean token_count {samples.Average(s => s.Tokens):0} (max {samples.Max(s => s.Tokens)}), mean memories used {samples.Average(s => s.Memories):0.0}");
        // how the latency settles: p50 of each tenth of the run (JIT tiering and caches warm over the first requests)
        var tenth = Math.Max(1, requests / 10);
        Console.WriteLine("  p50 by tenth of the run: " + string.Join(" ", samples.Chunk(tenth).Select(c => $"{c.Select(s => s.Ms).Order().ElementAt(c.Length / 2):0.0}")));
        Console.WriteLine($"  target p50 <= 8 ms: {(P(0.50) <= 8 ? "met" : "NOT met")}");
        return 0;
    }
}
