using System.Globalization;
using MemoryService.Embeddings;
using MemoryService.Lifecycle;
using Microsoft.Extensions.AI;

namespace MemoryService.Bench;

/// <summary>
/// Calibrates the consolidation threshold of each embedding model: cosines of restated pairs (one fact in other words,
/// which should merge) against pairs on the same topic that differ (which must never merge, and that the lifecycle's
/// number, negation and entity checks do not catch). The threshold is the lowest that merges no differing pair, plus
/// a margin. Usage: lifecycle-calibrate [--models hashing,minilm,arctic-xs]
/// </summary>
public static class LifecycleCalibration
{
    internal static readonly (string A, string B)[] Restated =
    [
        ("Prefers tea over coffee", "Would rather drink tea than coffee"),
        ("Works as a nurse", "Is a nurse by profession"),
        ("Works as a nurse at the hospital", "Works at the hospital as a nurse"),
        ("Has a dog named Biscuit", "Owns a dog called Biscuit"),
        ("Lives in Leeds", "Is living in Leeds"),
        ("Is allergic to peanuts", "Has a peanut allergy"),
        ("Likes hiking in the mountains", "Enjoys hiking in the mountains"),
        ("Prefers short answers", "Prefers answers that are short"),
        ("Prefers answers in Spanish", "Wants answers in Spanish"),
        ("Is vegetarian", "Is a vegetarian"),
        ("Plays the guitar", "Plays guitar"),
        ("Drives a blue Toyota", "Drives a Toyota that is blue"),
        ("Speaks fluent French", "Speaks French fluently"),
        ("Has two children", "Has two kids"),
        ("Studies computer science at university", "Is studying computer science at university"),
        ("Goes to the gym every morning", "Goes to the gym each morning"),
        ("Likes jazz music", "Enjoys listening to jazz music"),
        ("Wants to learn Japanese", "Would like to learn Japanese"),
        ("Is afraid of flying", "Has a fear of flying"),
        ("Prefers dark mode in apps", "Likes dark mode in apps"),
    ];

    internal static readonly (string A, string B)[] Different =
    [
        ("Prefers tea", "Prefers coffee"),
        ("Works as a nurse", "Works as a teacher"),
        ("Likes dogs", "Dislikes dogs"),
        ("Is vegetarian", "Is vegan"),
        ("Plays the guitar", "Plays the piano"),
        ("Drives a blue car", "Drives a red car"),
        ("Speaks fluent French", "Speaks fluent German"),
        ("Prefers short answers", "Prefers detailed answers"),
        ("Likes jazz music", "Likes rock music"),
        ("Prefers dark mode in apps", "Prefers light mode in apps"),
        ("Goes to the gym every morning", "Goes to the gym every evening"),
        ("Is allergic to peanuts", "Is allergic to cats"),
        ("Has a dog", "Has a cat"),
        ("Wants to learn Japanese", "Wants to learn Korean"),
        ("Lives in a flat", "Lives in a house"),
        ("Is afraid of flying", "Is afraid of spiders"),
        ("Loves winter", "Hates winter"),
        ("Drinks oat milk", "Drinks almond milk"),
        ("Works from home", "Works from the office"),
        ("Prefers window seats", "Prefers aisle seats"),
        // differing in other words too: the word checks cannot tell these apart, only the cosine can
        ("Prefers tea", "Drinks coffee every morning"),
        ("Works as a nurse", "Is a teacher at a primary school"),
        ("Is vegetarian", "Eats meat most days"),
        ("Likes dogs", "Is scared of dogs"),
        ("Lives in a flat", "Owns a house with a garden"),
        ("Prefers short answers", "Wants long detailed explanations"),
        ("Plays the guitar", "Sings in a choir"),
        ("Goes to the gym every morning", "Goes running in the evening"),
        ("Likes jazz music", "Listens to classical music"),
        ("Prefers dark mode in apps", "Uses the light theme everywhere"),
        ("Drinks oat milk", "Takes milk from cows in coffee"),
        ("Works from home", "Commutes to the office daily"),
    ];

    public static int Run(string[] args)
    {
        var models = (Arg(args, "--models") ?? "hashing,minilm,arctic-xs").Split(',', StringSplitOptions.RemoveEmptyEntries);
        Console.WriteLine($"{Restated.Length} restated pairs, {Different.Length} differing pairs (document embeddings); " +
            $"word checks let through {Restated.Count(Passes)} restated and {Different.Count(Passes)} differing");
        Console.WriteLine("| model | restated cosine min / median | differing cosine max / median (max left to the cosine) | threshold | restated merged | threshold + 0.1 | restated merged |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (var name in models)
        {
            using IEmbeddingGenerator<string, Embedding<float>> generator = name == "hashing"
                ? new HashingEmbeddingGenerator(384)
                : new LocalEmbeddingGenerator(LocalModelSpec.Find(name) ?? throw new ArgumentException($"unknown model {name}"), threads: 1);
            var id = generator.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId;
            // what the word checks (numbers, negation, entities, one frame with another value) let through to the cosine
            var same = Cosines(generator, Restated);
            var differ = Cosines(generator, Different);
            var differPassing = differ.Where((_, i) => Passes(Different[i])).ToList();
            // lowest threshold on a 0.01 grid that merges no differing pair the word checks let through
            var threshold = Math.Ceiling((differPassing.DefaultIfEmpty(0).Max() + 0.005) * 100) / 100;
            var merged = same.Where((c, i) => c >= threshold && Passes(Restated[i])).Count();
            var safe = Math.Min(threshold + 0.1, 0.99);
            var mergedSafe = same.Where((c, i) => c >= safe && Passes(Restated[i])).Count();
            string F(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);
            Console.WriteLine($"| {id} | {F(same.Min())} / {F(Median(same))} | {F(differ.Max())} / {F(Median(differ))} ({F(differPassing.DefaultIfEmpty(0).Max())}) | " +
                $"{threshold.ToString("0.00", CultureInfo.InvariantCulture)} | {merged}/{same.Count} | {safe.ToString("0.00", CultureInfo.InvariantCulture)} | {mergedSafe}/{same.Count} |");
        }
        return 0;
    }

    private static bool Passes((string A, string B) p) => LifecycleRunner.Traits.Of(p.A).CompatibleWith(LifecycleRunner.Traits.Of(p.B));

    private static List<double> Cosines(IEmbeddingGenerator<string, Embedding<float>> g, (string A, string B)[] pairs)
    {
        var vectors = g.GenerateAsync(pairs.SelectMany(p => new[] { p.A, p.B }).ToList()).GetAwaiter().GetResult();
        return Enumerable.Range(0, pairs.Length).Select(i => Cosine(vectors[2 * i].Vector.Span, vectors[2 * i + 1].Vector.Span)).ToList();
    }

    private static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return dot / Math.Sqrt(na * nb);
    }

    private static double Median(List<double> v) => v.Order().ElementAt(v.Count / 2);

    private static string? Arg(string[] args, string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
}
