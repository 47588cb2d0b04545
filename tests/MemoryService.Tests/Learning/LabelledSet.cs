using System.Text.Json;
using MemoryService.Learning;

namespace MemoryService.Tests.Learning;

/// <summary>One labelled utterance: what a user said and which memory keys it should give (none for negatives).</summary>
internal sealed record LabelledUtterance(string Text, string Category, string[] Keys, string? Kind, string? Contains, string? EventDate)
{
    public bool IsPositive => Keys.Length > 0;
}

/// <summary>The labelled extraction set; shared by the tests and the benchmark (linked into both projects).</summary>
internal sealed record LabelledSet(DateTimeOffset ObservedAt, LabelledUtterance[] Items)
{
    public const string FileName = "extraction-labelled.json";
    public const string HoldoutFileName = "extraction-holdout.json";

    public static LabelledSet Load(string path) =>
        JsonSerializer.Deserialize<LabelledSet>(File.ReadAllText(path), new JsonSerializerOptions(JsonSerializerDefaults.Web))
        ?? throw new InvalidDataException($"{path} holds no labelled set");
}

/// <summary>The outcome for one utterance: which predicted keys were right and which expected keys were found.</summary>
internal sealed record ScoredUtterance(LabelledUtterance Item, IReadOnlyList<MemoryCandidate> Predicted)
{
    public int CorrectPredictions => Predicted.Count(c => Item.Keys.Contains(c.Key));
    public int FoundExpected => Item.Keys.Count(k => Predicted.Any(c => c.Key == k));
    public bool IsExact => CorrectPredictions == Predicted.Count && FoundExpected == Item.Keys.Length;
}

/// <summary>
/// Precision = correct predictions / predictions (a prediction is correct when its key is one the item expects);
/// recall = expected keys found / expected keys.
/// </summary>
internal sealed record ExtractionScore(IReadOnlyList<ScoredUtterance> Utterances)
{
    public int Predicted => Utterances.Sum(u => u.Predicted.Count);
    public int Correct => Utterances.Sum(u => u.CorrectPredictions);
    public int Expected => Utterances.Sum(u => u.Item.Keys.Length);
    public int Found => Utterances.Sum(u => u.FoundExpected);
    public double Precision => Predicted == 0 ? 1 : (double)Correct / Predicted;
    public double Recall => Expected == 0 ? 1 : (double)Found / Expected;
    public double F1 => Precision + Recall == 0 ? 0 : 2 * Precision * Recall / (Precision + Recall);

    public static async Task<ExtractionScore> MeasureAsync(IMemoryExtractor extractor, LabelledSet set)
    {
        var scored = new List<ScoredUtterance>(set.Items.Length);
        foreach (var item in set.Items)
        {
            var result = await extractor.ExtractAsync([new ConversationMessage(ConversationMessage.User, item.Text)], set.ObservedAt);
            scored.Add(new ScoredUtterance(item, result.Candidates));
        }
        return new ExtractionScore(scored);
    }
}
