using System.Diagnostics;
using System.Globalization;
using MemoryService.Learning;
using MemoryService.Tests.Learning;

/// <summary>
/// Quality and latency of the built-in rule-based extractor.
/// Usage: dotnet run -c Release --project bench/MemoryService.Bench -- extraction [--iterations 2000]
/// </summary>
public static class ExtractionBenchmark
{
    private const string SetFolder = "tests/MemoryService.Tests/Learning";

    // A realistic ten-turn exchange: five user turns mixing facts, plans, a question and small talk.
    private static readonly ConversationMessage[] Conversation =
    [
        new(ConversationMessage.User, "Hi! I'm planning meals for next week and could use some help. By the way, I'm vegetarian and I'm allergic to peanuts."),
        new(ConversationMessage.Assistant, "Happy to help! I'll keep everything vegetarian and peanut-free. Do you have any favourite cuisines or ingredients you'd like me to include?"),
        new(ConversationMessage.User, "I love Thai food and I really enjoy spicy dishes. I can't stand cilantro though, so please leave it out."),
        new(ConversationMessage.Assistant, "Got it: Thai-inspired, spicy, no cilantro. How many people are you cooking for, and how much time do you usually have on weekdays?"),
        new(ConversationMessage.User, "My wife's name is Anna and we have two kids, so four people. I work as a nurse, so weekdays are busy. What's a good quick curry?"),
        new(ConversationMessage.Assistant, "A chickpea and spinach red curry takes about 25 minutes. Use a peanut-free curry paste and swap cilantro for Thai basil."),
        new(ConversationMessage.User, "Sounds great, thanks! We're flying to Rome next Friday, so I only need plans until Thursday. Please always keep your answers short."),
        new(ConversationMessage.Assistant, "Understood. Here's a five-day plan, Monday to Thursday plus a light Sunday dinner, in short bullet points."),
        new(ConversationMessage.User, "Perfect. Oh and I prefer tea over coffee in the mornings, if you add breakfasts. I have a dentist appointment on Monday too."),
        new(ConversationMessage.Assistant, "Added tea-based breakfasts and left Monday evening light after your dentist appointment. Enjoy Rome!"),
    ];

    public static int Run(string[] args)
    {
        var iterations = Option(args, "--iterations", 2000);
        var root = RepoRoot();
        var extractor = new RuleBasedMemoryExtractor();

        // 1. Quality: the labelled set the tests assert on, then the held-out set
        foreach (var file in new[] { LabelledSet.FileName, LabelledSet.HoldoutFileName })
        {
            var path = Path.Combine(root, SetFolder, file);
            if (File.Exists(path))
                PrintQuality(file, ExtractionScore.MeasureAsync(extractor, LabelledSet.Load(path)).GetAwaiter().GetResult());
        }

        // 2. Latency: one conversation per call
        var observedAt = new DateTimeOffset(2026, 11, 20, 10, 0, 0, TimeSpan.Zero);
        var found = extractor.ExtractAsync(Conversation, observedAt).GetAwaiter().GetResult().Candidates;
        // Warm up for at least a second so tiered JIT has promoted the hot paths before timing starts.
        var warmUp = Stopwatch.StartNew();
        var warmUpRuns = 0;
        for (; warmUpRuns < 500 || warmUp.ElapsedMilliseconds < 1000; warmUpRuns++)
            extractor.ExtractAsync(Conversation, observedAt).GetAwaiter().GetResult();

        var timings = new double[iterations];
        for (var i = 0; i < iterations; i++)
        {
            var start = Stopwatch.GetTimestamp();
            extractor.ExtractAsync(Conversation, observedAt).GetAwaiter().GetResult();
            timings[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(timings);

        Console.WriteLine();
        Console.WriteLine($"latency: ten-turn conversation (5 user + 5 assistant), {found.Count} candidates, {iterations} iterations after {warmUpRuns} warm-up");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  p50 {Percentile(timings, 0.50):F3} ms   p95 {Percentile(timings, 0.95):F3} ms   mean {timings.Average():F3} ms   max {timings[^1]:F3} ms"));
        foreach (var candidate in found)
            Console.WriteLine($"    {candidate.Kind,-10} {candidate.Key,-28} {candidate.Content}");
        return 0;
    }

    private static void PrintQuality(string name, ExtractionScore score)
    {
        var items = score.Utterances;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: {items.Count} utterances ({items.Count(u => u.Item.IsPositive)} positive, {items.Count(u => !u.Item.IsPositive)} negative)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  precision {score.Precision:F3} ({score.Correct}/{score.Predicted})   recall {score.Recall:F3} ({score.Found}/{score.Expected})   F1 {score.F1:F3}"));
        Console.WriteLine($"  {"category",-16} {"items",5} {"exact",5} {"expected",8} {"found",5} {"predicted",9} {"correct",7}");
        foreach (var group in items.GroupBy(u => u.Item.Category))
        {
            Console.WriteLine($"  {group.Key,-16} {group.Count(),5} {group.Count(u => u.IsExact),5} {group.Sum(u => u.Item.Keys.Length),8} " +
                $"{group.Sum(u => u.FoundExpected),5} {group.Sum(u => u.Predicted.Count),9} {group.Sum(u => u.CorrectPredictions),7}");
        }
        foreach (var miss in items.Where(u => !u.IsExact))
            Console.WriteLine($"    miss [{miss.Item.Category}] \"{miss.Item.Text}\" expected [{string.Join(", ", miss.Item.Keys)}] got [{string.Join(", ", miss.Predicted.Select(c => c.Key))}]");
        Console.WriteLine();
    }

    private static double Percentile(double[] sorted, double p) => sorted[(int)Math.Clamp(Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static int Option(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length && int.TryParse(args[at + 1], CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MemoryService.sln")))
                return dir.FullName;
        }
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MemoryService.sln")))
                return dir.FullName;
        }
        throw new DirectoryNotFoundException("MemoryService.sln not found above the benchmark or the working directory");
    }
}
