using MemoryService.Learning;
using Xunit.Abstractions;

namespace MemoryService.Tests.Learning;

/// <summary>Scores the rule-based extractor against the labelled set of utterances.</summary>
public sealed class ExtractionQualityTests(ITestOutputHelper output)
{
    private static readonly LabelledSet Set = LabelledSet.Load(Path.Combine(AppContext.BaseDirectory, "Learning", LabelledSet.FileName));

    [Fact]
    public void LabelledSetIsLargeAndCoversNegatives()
    {
        Assert.True(Set.Items.Length >= 100, $"only {Set.Items.Length} utterances");
        Assert.True(Set.Items.Count(i => !i.IsPositive) >= 40, "fewer than 40 negatives");
        string[] categories = ["preference", "dislike", "fact", "family", "pet", "plan",
            "question", "hypothetical", "third_party", "reported_speech", "small_talk", "wish", "generic"];
        Assert.All(categories, c => Assert.Contains(Set.Items, i => i.Category == c));
    }

    [Fact]
    public async Task PrecisionAndRecallMeetTheBar()
    {
        var score = await ExtractionScore.MeasureAsync(new RuleBasedMemoryExtractor(), Set);

        foreach (var miss in score.Utterances.Where(u => !u.IsExact))
            output.WriteLine($"[{miss.Item.Category}] \"{miss.Item.Text}\" expected [{string.Join(", ", miss.Item.Keys)}] got [{string.Join(", ", miss.Predicted.Select(c => c.Key))}]");
        output.WriteLine($"precision {score.Precision:F3} ({score.Correct}/{score.Predicted}), recall {score.Recall:F3} ({score.Found}/{score.Expected}), F1 {score.F1:F3}");

        Assert.True(score.Precision >= 0.95, $"precision {score.Precision:F3}");
        Assert.True(score.Recall >= 0.85, $"recall {score.Recall:F3}");
    }

    // The held-out set was written after the rules were finished, but (as its "note" says) its first measurement,
    // precision 0.914 and recall 0.640, led to six general fixes: it has been looked at, so today's figures on it
    // (0.975 and 0.780) are optimistic, not an unbiased estimate. It stays as a regression guard with bars below
    // today's figures and above that first measurement; do not tune against it further (an honest estimate needs
    // a fresh set). Precision matters more than recall: a wrong memory is worse than a missed one.
    [Fact]
    public async Task HeldOutSetKeepsPrecisionAndRecall()
    {
        var holdout = LabelledSet.Load(Path.Combine(AppContext.BaseDirectory, "Learning", LabelledSet.HoldoutFileName));

        var score = await ExtractionScore.MeasureAsync(new RuleBasedMemoryExtractor(), holdout);

        foreach (var miss in score.Utterances.Where(u => !u.IsExact))
            output.WriteLine($"[{miss.Item.Category}] \"{miss.Item.Text}\" expected [{string.Join(", ", miss.Item.Keys)}] got [{string.Join(", ", miss.Predicted.Select(c => c.Key))}]");
        output.WriteLine($"held out: precision {score.Precision:F3} ({score.Correct}/{score.Predicted}), recall {score.Recall:F3} ({score.Found}/{score.Expected}), F1 {score.F1:F3}");

        Assert.True(score.Precision >= 0.90, $"precision {score.Precision:F3}");
        Assert.True(score.Recall >= 0.72, $"recall {score.Recall:F3}");
    }

    [Fact]
    public async Task FoundMemoriesHaveTheLabelledKindContentAndDate()
    {
        var score = await ExtractionScore.MeasureAsync(new RuleBasedMemoryExtractor(), Set);

        var wrong = new List<string>();
        foreach (var scored in score.Utterances)
        {
            var item = scored.Item;
            foreach (var candidate in scored.Predicted.Where(c => item.Keys.Contains(c.Key)))
            {
                if (item.Kind is not null && candidate.Kind.ToString() != item.Kind)
                    wrong.Add($"\"{item.Text}\": kind {candidate.Kind}, expected {item.Kind}");
                if (item.Contains is not null && !candidate.Content.Contains(item.Contains, StringComparison.OrdinalIgnoreCase))
                    wrong.Add($"\"{item.Text}\": content \"{candidate.Content}\" lacks \"{item.Contains}\"");
                if (item.EventDate is not null && candidate.EventDate?.ToString("yyyy-MM-dd") != item.EventDate)
                    wrong.Add($"\"{item.Text}\": date {candidate.EventDate:yyyy-MM-dd}, expected {item.EventDate}");
            }
        }

        Assert.True(wrong.Count == 0, string.Join(Environment.NewLine, wrong));
    }
}
