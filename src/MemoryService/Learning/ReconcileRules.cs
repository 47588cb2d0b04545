using System.Text.RegularExpressions;
using MemoryService.Memories;

namespace MemoryService.Learning;

/// <summary>A current memory as reconciliation sees it, including ones added earlier in the same call.</summary>
public sealed class KnownMemory
{
    public required Guid Id { get; init; }
    public string? Key { get; set; }
    public required string Content { get; set; }
    public MemoryKind Kind { get; set; }
    public double Confidence { get; set; }
    public double Importance { get; set; }

    /// <summary>The version read before deciding; the write checks it is still the stored one.</summary>
    public int Version { get; init; }

    /// <summary>Added earlier in this call (not stored yet): it has no row, but its vector is known.</summary>
    public bool Pending { get; init; }

    public float[]? Vector { get; set; }

    /// <summary>Superseded earlier in this call: no longer current.</summary>
    public bool Superseded { get; set; }
}

/// <summary>One related memory with its cosine similarity to the candidate.</summary>
public sealed record Related(KnownMemory Memory, double Similarity);

/// <summary>What the rules decide for one candidate: the action and the existing memories it touches.</summary>
public sealed record RuleDecision(LearningAction Action, IReadOnlyList<KnownMemory> Targets, string Reason);

/// <summary>
/// The built-in reconciliation: compares a candidate with related current memories by key, by normalised
/// content (word sets without filler, like-verbs folded, negation as polarity) and by similarity.
/// Pure and deterministic, so it is also the fallback whenever a model's decision cannot be used.
/// </summary>
public static partial class ReconcileRules
{
    private static readonly HashSet<string> Filler = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "is", "are", "am", "be", "has", "have", "to", "of", "and", "or", "in", "on", "at", "for", "with",
        "really", "very", "so", "quite", "truly", "absolutely", "also", "now", "still", "just", "much", "lot", "lots",
        "actually", "definitely", "totally", "currently", "always", "usually", "generally", "their", "his", "her", "its",
    };

    // Verbs of liking fold into one word so "Loves hiking" repeats "Enjoys hiking"; disliking is "like" negated.
    private static readonly Dictionary<string, (string Word, bool Negates)> Folded = new(StringComparer.Ordinal)
    {
        ["love"] = ("like", false), ["loves"] = ("like", false), ["like"] = ("like", false), ["likes"] = ("like", false),
        ["enjoy"] = ("like", false), ["enjoys"] = ("like", false), ["adore"] = ("like", false), ["adores"] = ("like", false),
        ["prefer"] = ("prefer", false), ["prefers"] = ("prefer", false),
        ["dislike"] = ("like", true), ["dislikes"] = ("like", true), ["hate"] = ("like", true), ["hates"] = ("like", true),
        ["not"] = ("", true), ["no"] = ("", true), ["never"] = ("", true), ["doesn't"] = ("", true), ["does"] = ("", false),
        ["don't"] = ("", true), ["isn't"] = ("", true), ["cannot"] = ("", true), ["can't"] = ("", true), ["without"] = ("", true),
    };

    /// <summary>A statement's content words (lower case, crude singular) and whether it is negated.</summary>
    public sealed record Normalised(IReadOnlySet<string> Words, bool Negated)
    {
        public bool SameWords(Normalised other) => Words.SetEquals(other.Words);
    }

    public static Normalised Normalise(string content)
    {
        var words = new HashSet<string>(StringComparer.Ordinal);
        var negated = false;
        foreach (Match m in Word().Matches(content.ToLowerInvariant()))
        {
            var w = m.Value.Trim('\'');
            if (Folded.TryGetValue(w, out var f))
            {
                negated ^= f.Negates;
                w = f.Word;
                if (w.Length == 0) continue;
            }
            if (Filler.Contains(w)) continue;
            words.Add(w.Length > 3 && w.EndsWith('s') && !w.EndsWith("ss", StringComparison.Ordinal) ? w[..^1] : w);
        }
        return new Normalised(words, negated);
    }

    /// <summary>
    /// Decides one candidate against related current memories (superseded ones already left out):
    /// a repeat is NOOP, a compatible refinement of the same key UPDATE, a contradiction SUPERSEDE, else ADD.
    /// </summary>
    public static RuleDecision Decide(MemoryCandidate candidate, IReadOnlyList<Related> related, double repeatSimilarity)
    {
        var c = Normalise(candidate.Content);
        var repeats = new List<(KnownMemory M, double Rank)>();
        var refines = new List<KnownMemory>();
        var contradicts = new List<KnownMemory>();
        foreach (var (memory, similarity) in related)
        {
            var r = Normalise(memory.Content);
            var sameKey = memory.Key is not null && string.Equals(memory.Key, candidate.Key, StringComparison.Ordinal);
            var samePolarity = c.Negated == r.Negated;
            if (sameKey)
            {
                // Same topic: the words decide. Nothing new is a repeat, only additions a refinement, anything else replaces.
                if (samePolarity && c.Words.IsSubsetOf(r.Words)) repeats.Add((memory, 2 + similarity));
                else if (samePolarity && c.Words.IsProperSupersetOf(r.Words)) refines.Add(memory);
                else contradicts.Add(memory);
            }
            else if (samePolarity && (c.SameWords(r) || similarity >= repeatSimilarity))
                repeats.Add((memory, similarity));
            else if (!samePolarity && c.SameWords(r))
                contradicts.Add(memory); // "Likes coffee" stored without a key, "Does not like coffee" now
        }

        if (repeats.Count > 0)
        {
            var best = repeats.OrderByDescending(x => x.Rank).First().M;
            return new RuleDecision(LearningAction.Noop, [best], $"repeats memory {best.Id} (\"{best.Content}\")");
        }
        if (refines.Count > 0)
        {
            var target = refines[0];
            return new RuleDecision(LearningAction.Update, [target],
                $"refines memory {target.Id} with key '{candidate.Key}': \"{target.Content}\" becomes \"{candidate.Content}\"");
        }
        if (contradicts.Count > 0)
            return new RuleDecision(LearningAction.Supersede, contradicts,
                "contradicts " + string.Join(", ", contradicts.Select(m => $"memory {m.Id} (\"{m.Content}\")")) +
                (contradicts.Any(m => m.Key == candidate.Key) ? $" with the same key '{candidate.Key}'" : " in meaning"));
        return new RuleDecision(LearningAction.Add, [], related.Count == 0
            ? $"new: no current memory with key '{candidate.Key}' or similar content"
            : $"new: related memories differ in topic ({string.Join(", ", related.Select(x => x.Memory.Id))})");
    }

    /// <summary>Two independent sightings of one fact: 1 − (1 − a)(1 − b), so confidence moves toward 1.</summary>
    public static double Reinforce(double stored, double observed) =>
        Math.Clamp(1 - (1 - stored) * (1 - Math.Clamp(observed, 0, 1)), 0, 1);

    [GeneratedRegex(@"[\p{L}\p{N}']+", RegexOptions.CultureInvariant | RegexOptions.NonBacktracking)]
    private static partial Regex Word();
}
