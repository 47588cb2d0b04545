using System.Globalization;
using MemoryService.Embeddings;
using MemoryService.Learning;
using Microsoft.Extensions.AI;

namespace MemoryService.Bench;

/// <summary>
/// Calibrates the learning thresholds on the labelled statement pairs (bench/data/meaning-pairs.tsv): for each model,
/// the cosine of every pair (both sides embedded as memories, as learning compares them), then precision/recall of
/// "same meaning" (paraphrase) at candidate thresholds, and how many related pairs (paraphrase or contradiction, which
/// reconciliation must see) a related-threshold keeps against the unrelated ones it lets in.
/// Usage: meaning [--pairs bench/data/meaning-pairs.tsv] [--models hashing,minilm,arctic-xs]
/// </summary>
public static class MeaningBenchmark
{
    private sealed record Pair(string Label, string A, string B);

    public static int Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(string[] args)
    {
        var path = ServiceHost.Arg(args, "--pairs") ?? Path.Combine(ServiceHost.FindRepoRoot(), "bench/data/meaning-pairs.tsv");
        var pairs = File.ReadLines(path).Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split('\t')).Select(f => new Pair(f[0], f[1], f[2])).ToList();
        var models = (ServiceHost.Arg(args, "--models") ?? "hashing,minilm,arctic-xs").Split(',');
        Console.WriteLine($"{pairs.Count} pairs from {path}: {string.Join(", ", pairs.GroupBy(p => p.Label).Select(g => $"{g.Key} {g.Count()}"))}");

        foreach (var name in models)
        {
            using IEmbeddingGenerator<string, Embedding<float>> generator = name == EmbeddingProviders.Hashing
                ? new HashingEmbeddingGenerator(384)
                : new LocalEmbeddingGenerator(LocalModelSpec.Find(name) ?? throw new ArgumentException($"unknown model {name}"), Environment.ProcessorCount);
            var texts = pairs.SelectMany(p => new[] { p.A, p.B }).ToList();
            var vectors = (await generator.GenerateAsync(texts, EmbeddingInput.ForDocument)).Select(e => e.Vector.ToArray()).ToArray();
            // The NOOP rule (ReconcileRules.Decide, no shared key) also asks for the same polarity: "Hates hiking" never repeats "Loves hiking".
            var scored = pairs.Select((p, i) => (p.Label, Cosine: Cosine(vectors[2 * i], vectors[2 * i + 1]),
                SamePolarity: ReconcileRules.Normalise(p.A).Negated == ReconcileRules.Normalise(p.B).Negated)).ToList();

            Console.WriteLine();
            Console.WriteLine($"## {name} ({generator.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId})");
            Console.WriteLine($"{"label",-14} {"n",3} {"min",6} {"mean",6} {"max",6}");
            foreach (var g in scored.GroupBy(s => s.Label))
                Console.WriteLine($"{g.Key,-14} {g.Count(),3} {g.Min(s => s.Cosine),6:0.000} {g.Average(s => s.Cosine),6:0.000} {g.Max(s => s.Cosine),6:0.000}");

            // "same meaning" = paraphrase; a NOOP on anything else loses a fact, so precision matters most.
            Console.WriteLine($"{"",9} {"cosine >= threshold",-24}   {"+ same polarity (the NOOP rule)",-31}");
            Console.WriteLine($"{"threshold",9} {"P(same)",7} {"R(same)",7} {"F1",6}   {"P(same)",7} {"R(same)",7} {"F0.5",6}   {"R(related)",10} {"unrelated in",12}");
            double? repeat = null, related = null;
            var bestF = -1.0;
            for (var t = 0.30; t <= 0.995; t += 0.01)
            {
                var tp = scored.Count(s => s.Label == "paraphrase" && s.Cosine >= t);
                var fp = scored.Count(s => s.Label != "paraphrase" && s.Cosine >= t);
                var positives = scored.Count(s => s.Label == "paraphrase");
                var precision = tp + fp == 0 ? 1 : (double)tp / (tp + fp);
                var recall = (double)tp / positives;
                var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
                var tpRule = scored.Count(s => s.Label == "paraphrase" && s.Cosine >= t && s.SamePolarity);
                var fpRule = scored.Count(s => s.Label != "paraphrase" && s.Cosine >= t && s.SamePolarity);
                var pRule = tpRule + fpRule == 0 ? 1 : (double)tpRule / (tpRule + fpRule);
                var rRule = (double)tpRule / positives;
                var f05 = pRule + rRule == 0 ? 0 : 1.25 * pRule * rRule / (0.25 * pRule + rRule);
                if (f05 > bestF + 1e-9) { bestF = f05; repeat = Math.Round(t, 2); }
                var relatedKept = scored.Where(s => s.Label is "paraphrase" or "contradiction").Average(s => s.Cosine >= t ? 1.0 : 0);
                var unrelatedIn = scored.Where(s => s.Label == "unrelated").Average(s => s.Cosine >= t ? 1.0 : 0);
                if (relatedKept >= 0.95) related = Math.Round(t, 2);
                if (Math.Round(t * 100) % 2 == 0 && (unrelatedIn < 1 || Math.Round(t * 100) % 10 == 0))
                    Console.WriteLine($"{t,9:0.00} {precision,7:0.000} {recall,7:0.000} {f1,6:0.000}   {pRule,7:0.000} {rRule,7:0.000} {f05,6:0.000}   {relatedKept,10:0.000} {unrelatedIn,12:0.000}");
            }
            Console.WriteLine($"suggested: RepeatSimilarity {F(repeat)} (best F0.5 of the NOOP rule: a false NOOP loses a fact, a missed one only duplicates), " +
                $"RelatedSimilarity {F(related)} (highest threshold keeping >= 95% of paraphrases and contradictions)");
        }
        return 0;
    }

    private static string F(double? x) => x?.ToString("0.00", CultureInfo.InvariantCulture) ?? "none";

    private static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
    }
}
