using System.Diagnostics;
using System.Text;
using System.Text.Json;
using MemoryService.Context;

/// <summary>
/// Compares <see cref="ApproximateTokenCounter"/> with the exact cl100k_base count of every text in token-texts.json,
/// then measures the speed of each Context:Tokenizer option. Usage: tokens [--seconds N] [--verbose]
/// </summary>
public static class TokenCounterBenchmark
{
    private sealed record Sample(string Category, string Text);

    public static int Run(string[] args)
    {
        double seconds = 2;
        int at = Array.IndexOf(args, "--seconds");
        if (at >= 0 && at + 1 < args.Length) seconds = double.Parse(args[at + 1], System.Globalization.CultureInfo.InvariantCulture);
        bool verbose = args.Contains("--verbose");

        var path = FindFixture();
        if (path is null)
        {
            Console.Error.WriteLine("token-texts.json not found: run from inside the repository.");
            return 1;
        }
        var texts = JsonSerializer.Deserialize<Sample[]>(File.ReadAllText(path), new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
        var counter = ApproximateTokenCounter.Instance;
        var cl100k = new TiktokenTokenCounter(ContextOptions.Cl100kBase);

        // 1. accuracy of the approximate count against the exact cl100k_base one, per category and overall
        var rows = texts.Select(t => (t.Category, Tokens: cl100k.CountTokens(t.Text), Estimate: counter.CountTokens(t.Text), t.Text))
            .Select(r => (r.Category, r.Tokens, r.Estimate, r.Text, Error: 100.0 * (r.Estimate - r.Tokens) / r.Tokens))
            .ToList();
        Console.WriteLine($"texts: {path}, reference: exact cl100k_base");
        Console.WriteLine($"{"category",-14} {"texts",5} {"tokens",7} {"mean|err|%",10} {"max|err|%",9}");
        foreach (var group in rows.GroupBy(r => r.Category).OrderBy(g => g.Key))
        {
            Console.WriteLine($"{group.Key,-14} {group.Count(),5} {group.Sum(r => r.Tokens),7} {group.Average(r => Math.Abs(r.Error)),10:F1} {group.Max(r => Math.Abs(r.Error)),9:F1}");
        }
        var scored = rows.Where(r => r.Tokens >= 20).ToList();
        int reference = rows.Sum(r => r.Tokens), estimated = rows.Sum(r => r.Estimate);
        Console.WriteLine($"{"all (>=20)",-14} {scored.Count,5} {scored.Sum(r => r.Tokens),7} {scored.Average(r => Math.Abs(r.Error)),10:F1} {scored.Max(r => Math.Abs(r.Error)),9:F1}");
        Console.WriteLine($"total: reference {reference}, estimated {estimated} ({100.0 * (estimated - reference) / reference:+0.0;-0.0}%)");
        var worst = scored.MaxBy(r => Math.Abs(r.Error));
        Console.WriteLine($"worst: {worst.Category} {worst.Estimate} vs {worst.Tokens} ({worst.Error:+0.0;-0.0}%): {Preview(worst.Text)}");
        if (verbose)
        {
            foreach (var r in rows.OrderByDescending(r => Math.Abs(r.Error)))
                Console.WriteLine($"  {r.Error,6:+0.0;-0.0}% {r.Estimate,4}/{r.Tokens,-4} {r.Category,-14} {Preview(r.Text)}");
        }

        // 2. throughput of each Context:Tokenizer option over all texts, repeated for the requested time
        long chars = texts.Sum(t => (long)t.Text.Length);
        long bytes = texts.Sum(t => (long)Encoding.UTF8.GetByteCount(t.Text));
        // the exact counters twice: counting every text (cache off), and as configured, where these 79 texts repeating
        // are all cache hits (a user's context lines repeat from request to request in the same way)
        var options = new (string Name, ITokenCounter Counter)[]
        {
            (ContextOptions.Approximate, ApproximateTokenCounter.Instance),
            (ContextOptions.Cl100kBase, new TiktokenTokenCounter(ContextOptions.Cl100kBase, cacheEntries: 0)),
            (ContextOptions.O200kBase, new TiktokenTokenCounter(ContextOptions.O200kBase, cacheEntries: 0)),
            (ContextOptions.O200kBase + " cached", new ContextOptions().CreateTokenCounter()),
        };
        foreach (var (name, option) in options)
        {
            for (int warm = 0; warm < 200; warm++) foreach (var t in texts) option.CountTokens(t.Text);
            long passes = 0, sink = 0;
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                foreach (var t in texts) sink += option.CountTokens(t.Text);
                passes++;
            }
            double elapsed = clock.Elapsed.TotalSeconds;
            Console.WriteLine($"{name,-18} throughput: {passes * bytes / elapsed / 1e6:F1} MB/s (UTF-8), {passes * chars / elapsed / 1e6:F1} M chars/s, " +
                $"{passes * texts.Length / elapsed:N0} texts/s ({sink / passes} tokens per pass)");
        }
        return 0;
    }

    private static string Preview(string text)
    {
        var flat = text.ReplaceLineEndings(" ");
        return flat.Length <= 70 ? flat : flat[..70] + "…";
    }

    private static string? FindFixture()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MemoryService.sln")))
            {
                var path = Path.Combine(dir.FullName, "tests", "MemoryService.Tests", "Context", "token-texts.json");
                return File.Exists(path) ? path : null;
            }
        }
        return null;
    }
}
