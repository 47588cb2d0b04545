using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Retrieval;
using MemoryService.Tests.Graph;

namespace MemoryService.Bench;

/// <summary>
/// What the entity graph adds to retrieval, over the real HTTP API: LoCoMo evidence recall@10 per category and the
/// hand-written multi-hop set (tests/MemoryService.Tests/Graph/multihop-set.json: share of questions with both supporting
/// memories in the top 10), each at graph weight 0 (the pipeline without the graph) and at the given weights. Every
/// weight gets its own copy of the data, so one setting's searches never move another's access statistics.
/// </summary>
public static class GraphBenchmark
{
    public static int Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(string[] args)
    {
        var json = QualityBenchmark.CreateJson();
        var weights = (ServiceHost.Arg(args, "--weights") ?? $"0,{new RankingWeights().Graph.ToString(CultureInfo.InvariantCulture)}")
            .Split(',').Select(w => double.Parse(w, CultureInfo.InvariantCulture)).ToArray();
        if (weights[0] != 0) weights = [0, .. weights];
        await using var host = await ServiceHost.StartAsync(args);
        using var http = host.CreateClient();
        var run = Guid.NewGuid().ToString("N")[..6];
        Console.WriteLine($"graph weights {string.Join(", ", weights)} (0 = without the graph); other weights at their defaults");

        if (!args.Contains("--skip-multihop"))
        {
            var set = MultiHopSet.Load(ServiceHost.Arg(args, "--multihop") ?? Path.Combine(ServiceHost.FindRepoRoot(), "tests/MemoryService.Tests/Graph/multihop-set.json"));
            foreach (var (copy, _) in weights.Index()) await set.IngestAsync(http, json, $"mh-{run}-{copy}");
            await ServiceHost.WaitForEmbeddingsAsync(http);
            Console.WriteLine();
            Console.WriteLine($"## multi-hop set: {set.Questions} questions over {set.Profiles.Count} profiles ({set.Profiles[0].Memories.Count + set.Fillers.Count} memories each)");
            Console.WriteLine($"{"graph weight",-14} {"both in top 10",15} {"support R@10",13}");
            foreach (var (copy, w) in weights.Index())
            {
                var (both, recall) = await set.EvaluateAsync(http, json, $"mh-{run}-{copy}", new RankingWeights { Graph = w });
                Console.WriteLine($"{w,-14:0.0#} {both,15:0.000} {recall,13:0.000}");
            }
        }

        if (!args.Contains("--skip-locomo"))
        {
            var data = LocomoDataset.Load(ServiceHost.Arg(args, "--data"));
            await QualityBenchmark.IngestAsync(http, data, run, weights.Length);
            await ServiceHost.WaitForEmbeddingsAsync(http);
            var results = new List<(Dictionary<string, double[]> Sums, Dictionary<string, int> Counts, double P50)>();
            foreach (var (copy, w) in weights.Index())
            {
                var (sums, n, latencies) = await QualityBenchmark.EvaluateAsync(http, data, $"{run}-{copy}", new RankingWeights { Graph = w });
                results.Add((sums, n, latencies[latencies.Count / 2]));
            }
            Console.WriteLine();
            Console.WriteLine($"## LoCoMo recall@10 (split:tune = {string.Join(", ", QualityBenchmark.TuneSplit.Order())}; tune on that split only)");
            Console.WriteLine($"{"group",-14} {"n",5} " + string.Join(" ", weights.Skip(1).Select(w => $"{"graph 0",8} {$"graph {w:0.0#}",10} {"delta",7}")));
            var (baseSums, counts, _) = results[0];
            foreach (var group in baseSums.Keys.OrderBy(g => g == "overall" ? "" : g))
            {
                var b = baseSums[group][1] / counts[group];
                Console.WriteLine($"{group,-14} {counts[group],5} " + string.Join(" ", results.Skip(1).Select(r =>
                    $"{b,8:0.000} {r.Sums[group][1] / counts[group],10:0.000} {r.Sums[group][1] / counts[group] - b,7:+0.000;-0.000;0.000}")));
            }
            Console.WriteLine($"search p50 over HTTP: {string.Join(", ", results.Select((r, i) => $"graph {weights[i]:0.0#} {r.P50:0.0} ms"))}");
        }
        return 0;
    }
}
