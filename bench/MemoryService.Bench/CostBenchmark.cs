using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Embeddings;
using MemoryService.Hosting;

namespace MemoryService.Bench;

/// <summary>
/// What an embedding provider costs: (1) in-process throughput of the local model (texts/s at batch 1, 8, 32 with 1
/// and 2 threads); (2) over HTTP against a started service: RSS with the model loaded, the time until a 1,000-item
/// batch is fully vector-searchable, search p50/p99 at each concurrency for queries seen before (vector from the
/// query cache) and never seen (embedded), whose difference is the share spent embedding the query.
/// Usage: costs [--provider local|hashing] [--model arctic-xs|minilm] [--users 4] [--seconds 8] [--concurrency 1,8]
///              [--throughput-seconds 2] [--skip-throughput]
/// </summary>
public static class CostBenchmark
{
    private static readonly JsonSerializerOptions Json = CreateJson();

    public static int Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(string[] args)
    {
        var provider = ServiceHost.Arg(args, "--provider") ?? EmbeddingProviders.Local;
        var model = ServiceHost.Arg(args, "--model") ?? LocalModelSpec.Default.Name;
        var users = int.Parse(ServiceHost.Arg(args, "--users") ?? "4");
        var seconds = double.Parse(ServiceHost.Arg(args, "--seconds") ?? "8", System.Globalization.CultureInfo.InvariantCulture);
        var concurrencies = (ServiceHost.Arg(args, "--concurrency") ?? "1,8").Split(',').Select(int.Parse).ToArray();
        Console.WriteLine($"provider {provider}{(provider == EmbeddingProviders.Local ? $" model {model}" : "")}; {Environment.ProcessorCount} cores, " +
            $"load average {File.ReadAllText("/proc/loadavg").Split(' ').Take(3).Aggregate((a, b) => $"{a} {b}")} (a shared machine: figures are noisy)");

        if (provider == EmbeddingProviders.Local && !args.Contains("--skip-throughput"))
            Throughput(LocalModelSpec.Find(model)!, double.Parse(ServiceHost.Arg(args, "--throughput-seconds") ?? "2", System.Globalization.CultureInfo.InvariantCulture));

        var settings = new Dictionary<string, string> { ["Embeddings__Provider"] = provider };
        if (provider == EmbeddingProviders.Local) settings["Embeddings__Model"] = model;
        await using var host = await ServiceHost.StartAsync(args, settings);
        using var http = host.CreateClient();
        Console.WriteLine();
        Console.WriteLine($"(2) service: RSS after start {host.RssMiB():0} MiB");

        // ingest: each user gets one 1,000-item batch; the first batch is timed alone until fully vector-searchable
        for (var u = 0; u < users; u++)
        {
            var r = new Random(u);
            var items = Enumerable.Range(0, 1000).Select(_ => LoadWorkload.Memory(r))
                .Select(m => new { content = m.Content, kind = m.Kind, tags = m.Tags, importance = m.Importance, observed_at = m.ObservedAt }).ToList();
            var sw = Stopwatch.StartNew();
            (await http.PostAsJsonAsync($"/v1/users/{LoadWorkload.UserId(u)}/memories/batch", new { items }, Json)).EnsureSuccessStatusCode();
            var stored = sw.Elapsed.TotalSeconds;
            if (u == 0)
            {
                await ServiceHost.WaitForEmbeddingsAsync(http);
                Console.WriteLine($"    a 1,000-item batch: stored (201) in {stored:0.00} s, fully vector-searchable after {sw.Elapsed.TotalSeconds:0.0} s " +
                    $"({1000 / sw.Elapsed.TotalSeconds:0} memories/s embedded in the background)");
            }
        }
        var seeded = Stopwatch.StartNew();
        await ServiceHost.WaitForEmbeddingsAsync(http);
        Console.WriteLine($"    corpus: {users} users x 1,000 memories, all embedded ({seeded.Elapsed.TotalSeconds:0} s after the last batch); RSS {host.RssMiB():0} MiB");

        Console.WriteLine($"    {"concurrency",11} {"queries",-8} {"n",6} {"p50 ms",8} {"p99 ms",8} {"req/s",7}");
        var counter = 0;
        foreach (var c in concurrencies)
        {
            var results = new Dictionary<string, List<double>>();
            foreach (var fresh in new[] { false, true })
            {
                var samples = new List<double>();
                var until = Stopwatch.StartNew();
                await Task.WhenAll(Enumerable.Range(0, c).Select(w => Task.Run(async () =>
                {
                    var r = new Random(HashCode.Combine(c, w));
                    var mine = new List<double>();
                    while (until.Elapsed.TotalSeconds < seconds)
                    {
                        // seen: one of the workload's few hundred distinct queries (warm in the query cache after the first
                        // pass); fresh: made unique by a number, so its vector must be computed
                        var query = LoadWorkload.Query(r) + (fresh ? $" {Interlocked.Increment(ref counter)}" : "");
                        var user = LoadWorkload.UserId(r.Next(users));
                        var sw = Stopwatch.StartNew();
                        using var response = await http.PostAsJsonAsync($"/v1/users/{user}/memories/search", new { query, limit = 10 }, Json);
                        await response.Content.CopyToAsync(Stream.Null);
                        response.EnsureSuccessStatusCode();
                        mine.Add(sw.Elapsed.TotalMilliseconds);
                    }
                    lock (samples) samples.AddRange(mine);
                })));
                samples.Sort();
                results[fresh ? "fresh" : "seen"] = samples;
                Console.WriteLine($"    {c,11} {(fresh ? "fresh" : "seen"),-8} {samples.Count,6} {P(samples, 0.5),8:0.0} {P(samples, 0.99),8:0.0} {samples.Count / seconds,7:0}");
            }
            var share = (P(results["fresh"], 0.5) - P(results["seen"], 0.5)) / P(results["fresh"], 0.5);
            Console.WriteLine($"    {"",11} share of a fresh search's p50 spent embedding its query: {Math.Max(0, share):P0}");
        }
        Console.WriteLine($"    RSS after the searches {host.RssMiB():0} MiB");
        return 0;
    }

    private static double P(List<double> sorted, double q) => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)(q * sorted.Count))];

    /// <summary>Texts/s of the model alone, one caller, each call a batch of the given size (no micro-batching window).</summary>
    private static void Throughput(LocalModelSpec spec, double seconds)
    {
        var r = new Random(7);
        var texts = Enumerable.Range(0, 512).Select(_ => LoadWorkload.Memory(r).Content).ToArray();
        Console.WriteLine();
        Console.WriteLine($"(1) {spec.Name} in-process throughput over workload memories (avg {texts.Average(t => t.Length):0} chars), {seconds:0.#} s per cell:");
        Console.WriteLine($"    {"threads",7} {"batch 1",9} {"batch 8",9} {"batch 32",9}   texts/s");
        foreach (var threads in new[] { 1, 2 })
        {
            var cells = new List<string>();
            foreach (var batch in new[] { 1, 8, 32 })
            {
                using var generator = new LocalEmbeddingGenerator(spec, threads, batchWindowMs: 0, maxBatch: batch);
                var chunk = texts.Take(batch).ToArray();
                generator.GenerateAsync(chunk, EmbeddingInput.ForDocument).GetAwaiter().GetResult(); // warm-up
                var sw = Stopwatch.StartNew();
                long done = 0;
                var offset = 0;
                while (sw.Elapsed.TotalSeconds < seconds)
                {
                    var part = Enumerable.Range(0, batch).Select(i => texts[(offset + i) % texts.Length]).ToArray();
                    offset += batch;
                    generator.GenerateAsync(part, EmbeddingInput.ForDocument).GetAwaiter().GetResult();
                    done += batch;
                }
                cells.Add($"{done / sw.Elapsed.TotalSeconds,9:0}");
            }
            Console.WriteLine($"    {threads,7} {string.Join(" ", cells)}");
        }
        Console.WriteLine($"    process RSS with the model loaded at 1 and 2 threads (two sessions): {Environment.WorkingSet / 1048576.0:0} MiB");
    }

    private static JsonSerializerOptions CreateJson()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        ApiConventions.Configure(o);
        return o;
    }
}
