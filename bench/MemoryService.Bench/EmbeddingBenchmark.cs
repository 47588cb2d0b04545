using System.Diagnostics;
using System.Globalization;
using MemoryService.Embeddings;
using Microsoft.Extensions.AI;

namespace MemoryService.Bench;

/// <summary>
/// (a) Hashing embedder throughput on one thread over the LoCoMo turns; (b) vector-only evidence recall
/// on LoCoMo: per conversation every turn is a document, every question of categories 1-4 a query.
/// Usage: embedding [--data path/to/locomo-dev.json] [--dimensions 384] [--seconds 3]
///                  [--provider openai --base-url http://localhost:11434/v1 --model nomic-embed-text [--api-key k]]
/// </summary>
public static class EmbeddingBenchmark
{
    private static readonly int[] Ks = [5, 10, 25, 50];

    public static int Run(string[] args)
    {
        var options = Options.Parse(args);
        var data = LocomoDataset.Load(options.DataPath);
        Console.WriteLine($"LoCoMo: {data.Path}");
        Console.WriteLine($"  {data.Conversations.Count} conversations, {data.Conversations.Sum(c => c.Turns.Count)} turns, " +
            $"{data.Conversations.Sum(c => c.Questions.Count)} questions; skipped {data.SkippedTotal} " +
            $"({string.Join(", ", data.Skipped.Select(s => $"{s.Key}: {s.Value}"))}); " +
            $"salvaged evidence strings: {data.SalvagedEvidence}; unknown evidence ids dropped: {data.DroppedEvidenceIds}");
        var dates = data.Conversations.SelectMany(c => c.Turns).Select(t => t.SessionDate).ToList();
        Console.WriteLine($"  sessions from {dates.Min():yyyy-MM-dd HH:mm}Z to {dates.Max():yyyy-MM-dd HH:mm}Z; first turn: {data.Conversations[0].Turns[0].Text}");

        using IEmbeddingGenerator<string, Embedding<float>> generator = options.Provider == EmbeddingProviders.OpenAi
            ? new OpenAiEmbeddingGenerator(new EmbeddingsOptions
            {
                Provider = EmbeddingProviders.OpenAi, BaseUrl = new Uri(options.BaseUrl!), Model = options.Model,
                ApiKey = options.ApiKey, Dimensions = options.Dimensions,
            })
            : new HashingEmbeddingGenerator(options.Dimensions);
        Console.WriteLine($"Model: {generator.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId}");

        if (generator is HashingEmbeddingGenerator hashing)
            Throughput(hashing, data.Conversations.SelectMany(c => c.Turns).Select(t => t.Text).ToArray(), options.Seconds);

        Recall(generator, data).GetAwaiter().GetResult();
        return 0;
    }

    private static void Throughput(HashingEmbeddingGenerator generator, string[] texts, double seconds)
    {
        var vector = new float[generator.Dimensions];
        foreach (var text in texts) generator.Embed(text, vector); // warm-up: JIT tiering, pools

        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        long count = 0;
        while (watch.Elapsed.TotalSeconds < seconds)
        {
            foreach (var text in texts) generator.Embed(text, vector);
            count += texts.Length;
        }
        watch.Stop();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        var perSecond = count / watch.Elapsed.TotalSeconds;
        Console.WriteLine();
        Console.WriteLine($"(a) Hashing throughput, one thread, {texts.Length} LoCoMo turns (avg {texts.Average(t => t.Length):F0} chars), {count:N0} embeddings in {watch.Elapsed.TotalSeconds:F1} s:");
        Console.WriteLine($"    Embed(span, destination): {perSecond:N0} texts/s, {1e6 / perSecond:F1} µs/text, {(double)allocated / count:F1} bytes allocated/text " +
            $"(target ≥ 20,000/s: {(perSecond >= 20_000 ? "met" : "MISSED")})");

        watch.Restart();
        var batches = 0;
        while (watch.Elapsed.TotalSeconds < seconds / 2)
        {
            _ = generator.GenerateAsync(texts).GetAwaiter().GetResult();
            batches++;
        }
        var generatePerSecond = batches * texts.Length / watch.Elapsed.TotalSeconds;
        Console.WriteLine($"    GenerateAsync (one array per vector): {generatePerSecond:N0} texts/s, {1e6 / generatePerSecond:F1} µs/text");
    }

    private static async Task Recall(IEmbeddingGenerator<string, Embedding<float>> generator, LocomoDataset data)
    {
        var sums = new Dictionary<LocomoCategory, double[]>();
        var counts = new Dictionary<LocomoCategory, int>();
        var watch = Stopwatch.StartNew();
        foreach (var conversation in data.Conversations)
        {
            // 1. embed every turn of the conversation
            var turns = (await generator.GenerateAsync(conversation.Turns.Select(t => t.Text))).Select(e => e.Vector).ToArray();

            // 2. embed each question of categories 1-4 (adversarial questions have no answer to find)
            var questions = conversation.Questions.Where(q => q.Category != LocomoCategory.Adversarial).ToList();
            var queries = (await generator.GenerateAsync(questions.Select(q => q.Question))).Select(e => e.Vector).ToArray();

            for (var i = 0; i < questions.Count; i++)
            {
                // 3. rank turns by cosine (vectors are unit length, so a dot product), ties by position
                var query = queries[i];
                var ranked = Enumerable.Range(0, turns.Length)
                    .Select(t => (Index: t, Score: Dot(query.Span, turns[t].Span)))
                    .OrderByDescending(x => x.Score).ThenBy(x => x.Index)
                    .Select(x => conversation.Turns[x.Index].DiaId)
                    .Take(Ks[^1])
                    .ToList();

                // 4. recall@k: share of the question's evidence turns found in the top k
                var evidence = questions[i].Evidence;
                var category = questions[i].Category;
                var sum = sums.TryGetValue(category, out var s) ? s : sums[category] = new double[Ks.Length];
                for (var k = 0; k < Ks.Length; k++)
                    sum[k] += (double)evidence.Count(id => ranked.Take(Ks[k]).Contains(id)) / evidence.Count;
                counts[category] = counts.GetValueOrDefault(category) + 1;
            }
        }

        Console.WriteLine();
        Console.WriteLine($"(b) Evidence recall, vector only, categories 1-4 ({watch.Elapsed.TotalSeconds:F1} s):");
        Console.WriteLine($"    {"",-14}{"n",5}{string.Concat(Ks.Select(k => $"{"@" + k,8}"))}");
        foreach (var category in counts.Keys.Order())
            Print(category.ToString(), counts[category], sums[category]);
        var total = counts.Values.Sum();
        var overall = Enumerable.Range(0, Ks.Length).Select(k => sums.Values.Sum(s => s[k])).ToArray();
        Print("overall", total, overall);
        Console.WriteLine("    (LoCoMo paper, DRAGON over turns, all categories: @5 0.567, @10 0.662, @25 0.767, @50 0.827)");

        static void Print(string name, int n, double[] sum) =>
            Console.WriteLine($"    {name,-14}{n,5}{string.Concat(sum.Select(x => (x / n).ToString("F3", CultureInfo.InvariantCulture).PadLeft(8)))}");
    }

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = 0f;
        for (var i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }

    private sealed record Options(string? DataPath, int Dimensions, double Seconds, string Provider, string? BaseUrl, string? Model, string? ApiKey)
    {
        public static Options Parse(string[] args)
        {
            string? Value(string name)
            {
                var i = Array.IndexOf(args, name);
                return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
            }
            return new Options(
                Value("--data"),
                int.Parse(Value("--dimensions") ?? "384", CultureInfo.InvariantCulture),
                double.Parse(Value("--seconds") ?? "3", CultureInfo.InvariantCulture),
                Value("--provider") ?? EmbeddingProviders.Hashing,
                Value("--base-url"),
                Value("--model"),
                Value("--api-key"));
        }
    }
}
