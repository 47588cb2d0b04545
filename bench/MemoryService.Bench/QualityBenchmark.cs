using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Hosting;

namespace MemoryService.Bench;

/// <summary>
/// Retrieval quality on the LoCoMo dev split over the real HTTP API: every dialog turn stored as an
/// event memory of one user per conversation, every question of categories 1-4 run as a search;
/// evidence recall@5/10/25 for vector-only, keyword-only and the full hybrid ranking.
/// </summary>
public static class QualityBenchmark
{
    private static readonly int[] Ks = [5, 10, 25];
    private static readonly JsonSerializerOptions Json = CreateJson();

    private static readonly (string Name, object? Weights)[] Modes =
    [
        ("vector-only", new { similarity = 1.0, keyword = 0.0, recency = 0.0, importance = 0.0, activation = 0.0, context = 0.0 }),
        ("keyword-only", new { similarity = 0.0, keyword = 1.0, recency = 0.0, importance = 0.0, activation = 0.0, context = 0.0 }),
        ("hybrid (defaults)", null),
    ];

    public static int Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(string[] args)
    {
        var data = LocomoDataset.Load(ServiceHost.Arg(args, "--data"));
        var questions = data.Conversations.Sum(c => c.Questions.Count(q => q.Category != LocomoCategory.Adversarial));
        Console.WriteLine($"LoCoMo: {data.Conversations.Count} conversations, {data.Conversations.Sum(c => c.Turns.Count)} turns, " +
            $"{questions} questions of categories 1-4; skipped {data.SkippedTotal} ({string.Join(", ", data.Skipped.Select(s => $"{s.Key}: {s.Value}"))}), " +
            $"salvaged {data.SalvagedEvidence} evidence strings");

        await using var host = await ServiceHost.StartAsync(args);
        using var http = host.CreateClient();
        var run = Guid.NewGuid().ToString("N")[..6];

        // 1. ingest: one user per conversation, one event memory per turn; a fresh copy per mode so the
        //    access statistics one mode's searches leave behind never influence another mode's ranking
        var ingest = Stopwatch.StartNew();
        // --copies 1 (implied by --tune) runs every mode on one copy, for a slow model: the searches of earlier modes then
        // leave access statistics that move the small activation signal of later ones a little.
        var copies = args.Contains("--tune") ? 1 : int.Parse(ServiceHost.Arg(args, "--copies") ?? Modes.Length.ToString());
        // --lifecycle adds one more copy that gets one lifecycle run (every step) before its hybrid search
        var modeCopies = copies;
        var lifecycleCopy = args.Contains("--lifecycle") ? copies++ : -1;
        await IngestAsync(http, data, run, copies);
        Console.WriteLine($"ingested in {ingest.Elapsed.TotalSeconds:0.0} s");
        var embedded = await ServiceHost.WaitForEmbeddingsAsync(http);
        Console.WriteLine($"vector-searchable {embedded:0.0} s later (background embedding)");
        var lifecycleSummary = "";
        if (lifecycleCopy >= 0)
        {
            int merged = 0, archived = 0, promoted = 0;
            foreach (var conversation in data.Conversations)
            {
                var response = await http.PostAsJsonAsync($"/v1/users/{conversation.SampleId}-{run}-{lifecycleCopy}/lifecycle/run", new { }, Json);
                response.EnsureSuccessStatusCode();
                var report = await response.Content.ReadFromJsonAsync<JsonElement>();
                merged += report.GetProperty("merged").EnumerateArray().Sum(m => m.GetProperty("from").GetArrayLength());
                archived += report.GetProperty("archived").GetArrayLength();
                promoted += report.GetProperty("promoted").GetArrayLength();
            }
            lifecycleSummary = $"{merged} merged away, {archived} forgotten, {promoted} routines promoted";
            Console.WriteLine($"lifecycle run on copy {lifecycleCopy}: {lifecycleSummary}");
        }

        if (ServiceHost.Arg(args, "--dump") is { } dumpPath)
        {
            // For tuning fusion offline: every question's candidates with their signals.
            await using var dump = File.CreateText(dumpPath);
            foreach (var conversation in data.Conversations)
            foreach (var q in conversation.Questions.Where(q => q.Category != LocomoCategory.Adversarial))
            {
                var response = await http.PostAsJsonAsync($"/v1/users/{conversation.SampleId}-{run}-0/memories/search",
                    new { query = q.Question, limit = 100, include_knowledge = false, explain = true }, Json);
                var body = await response.Content.ReadFromJsonAsync<JsonElement>();
                var items = body.GetProperty("items").EnumerateArray().Select(i => new
                {
                    dia = i.GetProperty("memory").GetProperty("metadata").GetProperty("dia_id").GetString(),
                    sim = i.GetProperty("explain").GetProperty("similarity").GetDouble(),
                    kw = i.GetProperty("explain").GetProperty("keyword").GetDouble(),
                    ctx = i.GetProperty("explain").GetProperty("context").GetDouble(),
                });
                await dump.WriteLineAsync(JsonSerializer.Serialize(new { cat = (int)q.Category, evidence = q.Evidence, items }));
            }
            return 0;
        }

        // 2. search every question in every mode (and, with --lifecycle, hybrid on the copy that had a lifecycle run)
        var runs = Modes.Select((m, i) => (m.Name, Suffix: $"{run}-{Math.Min(i, modeCopies - 1)}", m.Weights)).ToList();
        if (lifecycleCopy >= 0) runs.Add(($"hybrid (defaults) after a lifecycle run ({lifecycleSummary})", $"{run}-{lifecycleCopy}", null));
        foreach (var (name, suffix, weights) in runs)
        {
            var (sums, counts, latencies) = await EvaluateAsync(http, data, suffix, weights);
            Console.WriteLine();
            Console.WriteLine($"## {name}   (search p50 {latencies[latencies.Count / 2]:0.0} ms over HTTP)");
            Console.WriteLine($"{"group",-14} {"n",5} {"R@5",7} {"R@10",7} {"R@25",7}");
            foreach (var group in sums.Keys.OrderBy(g => g == "overall" ? "" : g))
                Console.WriteLine($"{group,-14} {counts[group],5} " + string.Join(" ", sums[group].Select(v => $"{v / counts[group],7:0.000}")));
        }
        if (args.Contains("--tune")) await TuneAsync(http, data, run);
        return 0;
    }

    /// <summary>Stores every conversation as the user "{sample}-{run}-{copy}" for each copy, one event memory per turn.</summary>
    internal static async Task IngestAsync(HttpClient http, LocomoDataset data, string run, int copies)
    {
        foreach (var copy in Enumerable.Range(0, copies))
        foreach (var conversation in data.Conversations)
        {
            var items = conversation.Turns.Select(t => new
            {
                content = t.Text,
                kind = "event",
                observed_at = t.SessionDate,
                metadata = new { dia_id = t.DiaId },
            }).ToList();
            foreach (var chunk in items.Chunk(1000))
            {
                var response = await http.PostAsJsonAsync($"/v1/users/{conversation.SampleId}-{run}-{copy}/memories/batch", new { items = chunk }, Json);
                response.EnsureSuccessStatusCode();
            }
        }
    }

    /// <summary>
    /// Conversations the fusion defaults are tuned on; the others are held out to check the tuning generalises
    /// (reported as groups "split:tune" and "split:held-out").
    /// </summary>
    internal static readonly HashSet<string> TuneSplit = ["conv-26", "conv-30", "conv-41"];

    internal static async Task<(Dictionary<string, double[]> Sums, Dictionary<string, int> Counts, List<double> Latencies)> EvaluateAsync(
        HttpClient http, LocomoDataset data, string suffix, object? weights)
    {
        var sums = new Dictionary<string, double[]>();
        var counts = new Dictionary<string, int>();
        var latencies = new List<double>();
        foreach (var conversation in data.Conversations)
        {
            var split = TuneSplit.Contains(conversation.SampleId) ? "split:tune" : "split:held-out";
            foreach (var q in conversation.Questions.Where(q => q.Category != LocomoCategory.Adversarial))
            {
                var sw = Stopwatch.StartNew();
                var response = await http.PostAsJsonAsync($"/v1/users/{conversation.SampleId}-{suffix}/memories/search",
                    new { query = q.Question, limit = Ks[^1], include_knowledge = false, weights }, Json);
                latencies.Add(sw.Elapsed.TotalMilliseconds);
                response.EnsureSuccessStatusCode();
                var body = await response.Content.ReadFromJsonAsync<JsonElement>();
                var ranked = body.GetProperty("items").EnumerateArray()
                    // a routine the lifecycle promoted has no dia_id: it is never evidence
                    .Select(i => i.GetProperty("memory").GetProperty("metadata").TryGetProperty("dia_id", out var dia) ? dia.GetString()! : "").ToList();
                foreach (var group in new[] { "overall", q.Category.ToString(), split })
                {
                    var s = sums.TryGetValue(group, out var existing) ? existing : sums[group] = new double[Ks.Length];
                    for (var k = 0; k < Ks.Length; k++)
                        s[k] += q.Evidence.Count(e => ranked.Take(Ks[k]).Contains(e)) / (double)q.Evidence.Count;
                    counts[group] = counts.GetValueOrDefault(group) + 1;
                }
            }
        }
        latencies.Sort();
        return (sums, counts, latencies);
    }

    /// <summary>
    /// A grid of fusion weights (passed per request, so one ingest serves them all) over the first copy: recall@10 on the
    /// tune split, and on the held-out split for the same weights. Searches record accesses, so the activation signal
    /// drifts a little from one setting to the next; it is kept at its small default.
    /// </summary>
    private static async Task TuneAsync(HttpClient http, LocomoDataset data, string run)
    {
        var results = new List<(string Weights, double Tune, double HeldOut, double Overall)>();
        const double keyword = 0.7; // the scale; the similarity weight moves relative to it
        foreach (var similarity in new[] { 0.3, 0.5, 0.8, 1.2 })
        foreach (var context in new[] { 0.2, 0.4, 0.6 })
        {
            var weights = new { similarity, keyword, recency = 0.04, importance = 0.04, activation = 0.02, context };
            var (sums, counts, _) = await EvaluateAsync(http, data, $"{run}-0", weights);
            double R10(string g) => sums[g][1] / counts[g];
            var label = $"similarity {similarity:0.0#} keyword {keyword:0.0#} context {context:0.0#}";
            results.Add((label, R10("split:tune"), R10("split:held-out"), R10("overall")));
            Console.WriteLine($"{label,-44} R@10 tune {R10("split:tune"):0.000} held-out {R10("split:held-out"):0.000} overall {R10("overall"):0.000}");
        }
        Console.WriteLine();
        Console.WriteLine("best on the tune split:");
        foreach (var r in results.OrderByDescending(r => r.Tune).Take(5))
            Console.WriteLine($"{r.Weights,-44} R@10 tune {r.Tune:0.000} held-out {r.HeldOut:0.000} overall {r.Overall:0.000}");
    }

    internal static JsonSerializerOptions CreateJson()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        ApiConventions.Configure(o);
        return o;
    }
}
