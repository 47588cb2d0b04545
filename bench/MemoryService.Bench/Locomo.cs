using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MemoryService.Bench;

/// <summary>LoCoMo question categories, numbered as the dataset's own code uses them.</summary>
public enum LocomoCategory
{
    MultiHop = 1,
    Temporal = 2,
    OpenDomain = 3,
    SingleHop = 4,
    Adversarial = 5,
}

/// <summary>One dialogue turn; <see cref="Text"/> is "Name: text", plus " [shares a photo of ...]" when the turn had an image.</summary>
public sealed record LocomoTurn(string DiaId, string Speaker, string Text, int Session, DateTimeOffset SessionDate);

/// <summary>A question with the dia_ids of the turns that answer it (each one present in the conversation).</summary>
public sealed record LocomoQuestion(string Question, string? Answer, LocomoCategory Category, IReadOnlyList<string> Evidence);

public sealed record LocomoConversation(
    string SampleId, string SpeakerA, string SpeakerB, IReadOnlyList<LocomoTurn> Turns, IReadOnlyList<LocomoQuestion> Questions);

/// <summary>
/// Loads the LoCoMo dev split (shared/datasets/locomo-dev.json, see its README). A few evidence lists are
/// malformed or empty: they are repaired when the intent is unambiguous, otherwise the question is left
/// out and counted in <see cref="Skipped"/>, so figures always say what they were computed on.
/// </summary>
public sealed partial class LocomoDataset
{
    public const string EmptyEvidence = "empty evidence";
    public const string MalformedEvidence = "malformed evidence";
    public const string EvidenceNotInConversation = "evidence not in conversation";

    private LocomoDataset(string path, IReadOnlyList<LocomoConversation> conversations, Dictionary<string, int> skipped, int salvaged, int droppedIds)
    {
        Path = path;
        Conversations = conversations;
        Skipped = skipped;
        SalvagedEvidence = salvaged;
        DroppedEvidenceIds = droppedIds;
    }

    public string Path { get; }
    public IReadOnlyList<LocomoConversation> Conversations { get; }

    /// <summary>Questions left out, by reason (<see cref="EmptyEvidence"/>, <see cref="MalformedEvidence"/>, <see cref="EvidenceNotInConversation"/>).</summary>
    public IReadOnlyDictionary<string, int> Skipped { get; }

    /// <summary>Evidence strings repaired, e.g. "D:11:26" read as D11:26, "D8:6; D9:17" split in two.</summary>
    public int SalvagedEvidence { get; }

    /// <summary>Well-formed evidence ids naming a turn the conversation lacks, dropped from otherwise usable questions.</summary>
    public int DroppedEvidenceIds { get; }

    public int SkippedTotal => Skipped.Values.Sum();

    /// <summary>Loads <paramref name="path"/>, or by default ../shared/datasets/locomo-dev.json next to the folder holding MemoryService.sln.</summary>
    public static LocomoDataset Load(string? path = null)
    {
        path ??= FindDefaultPath();
        using var stream = File.OpenRead(path);
        using var document = JsonDocument.Parse(stream);

        var skipped = new Dictionary<string, int>();
        int salvaged = 0, dropped = 0;
        var conversations = new List<LocomoConversation>();
        foreach (var sample in document.RootElement.EnumerateArray())
        {
            var sampleId = sample.GetProperty("sample_id").GetString()!;
            var conversation = sample.GetProperty("conversation");
            var turns = ReadTurns(conversation);
            var ids = turns.Select(t => t.DiaId).ToHashSet(StringComparer.Ordinal);

            var questions = new List<LocomoQuestion>();
            foreach (var qa in sample.GetProperty("qa").EnumerateArray())
            {
                var (evidence, reason, repaired, unknown) = ReadEvidence(qa, ids);
                salvaged += repaired;
                dropped += unknown;
                if (reason is not null)
                {
                    skipped[reason] = skipped.GetValueOrDefault(reason) + 1;
                    continue;
                }
                questions.Add(new LocomoQuestion(
                    qa.GetProperty("question").GetString()!,
                    AnswerText(qa),
                    (LocomoCategory)qa.GetProperty("category").GetInt32(),
                    evidence));
            }
            conversations.Add(new LocomoConversation(
                sampleId,
                conversation.GetProperty("speaker_a").GetString()!,
                conversation.GetProperty("speaker_b").GetString()!,
                turns,
                questions));
        }
        return new LocomoDataset(path, conversations, skipped, salvaged, dropped);
    }

    /// <summary>Walks up from the current directory (then from the binaries) to the folder holding MemoryService.sln.</summary>
    public static string FindDefaultPath()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(System.IO.Path.Combine(dir.FullName, "MemoryService.sln")))
                    return System.IO.Path.GetFullPath(System.IO.Path.Combine(dir.FullName, "..", "shared", "datasets", "locomo-dev.json"));
            }
        }
        throw new FileNotFoundException("No folder holding MemoryService.sln above the current directory; pass the path to locomo-dev.json.");
    }

    /// <summary>Parses "1:56 pm on 8 May, 2023" as UTC (the dataset gives no time zone).</summary>
    public static DateTimeOffset ParseSessionDate(string value)
    {
        string[] formats = ["h:mm tt 'on' d MMMM, yyyy", "h:mm tt 'on' d MMM, yyyy", "h:mm tt 'on' MMMM d, yyyy"];
        if (DateTime.TryParseExact(value.Trim(), formats, CultureInfo.InvariantCulture,
                DateTimeStyles.AllowWhiteSpaces | DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
            return new DateTimeOffset(parsed, TimeSpan.Zero);
        throw new FormatException($"Unrecognised LoCoMo session date '{value}'.");
    }

    private static List<LocomoTurn> ReadTurns(JsonElement conversation)
    {
        var sessions = new List<(int Number, JsonElement Turns)>();
        foreach (var property in conversation.EnumerateObject())
        {
            var match = SessionName().Match(property.Name);
            if (match.Success && property.Value.ValueKind == JsonValueKind.Array)
                sessions.Add((int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), property.Value));
        }

        var turns = new List<LocomoTurn>();
        foreach (var (number, sessionTurns) in sessions.OrderBy(s => s.Number))
        {
            var date = ParseSessionDate(conversation.GetProperty($"session_{number}_date_time").GetString()!);
            foreach (var turn in sessionTurns.EnumerateArray())
            {
                var speaker = turn.GetProperty("speaker").GetString()!;
                var text = $"{speaker}: {turn.GetProperty("text").GetString()}";
                if (turn.TryGetProperty("blip_caption", out var caption) && caption.GetString() is { Length: > 0 } blip)
                    text += $" [shares a photo of {StripPhotoPrefix(blip)}]";
                turns.Add(new LocomoTurn(turn.GetProperty("dia_id").GetString()!, speaker, text, number, date));
            }
        }
        return turns;
    }

    // BLIP captions already start "a photo of ..." (or "a photography of ..."); avoid "a photo of a photo of".
    private static string StripPhotoPrefix(string caption)
    {
        foreach (var prefix in (ReadOnlySpan<string>)["a photo of ", "a photography of ", "an image of ", "a picture of "])
        {
            if (caption.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) return caption[prefix.Length..];
        }
        return caption;
    }

    private static string? AnswerText(JsonElement qa)
    {
        foreach (var name in (ReadOnlySpan<string>)["answer", "adversarial_answer"])
        {
            if (qa.TryGetProperty(name, out var answer))
                return answer.ValueKind == JsonValueKind.String ? answer.GetString() : answer.GetRawText();
        }
        return null;
    }

    private static (List<string> Evidence, string? SkipReason, int Salvaged, int Dropped) ReadEvidence(JsonElement qa, HashSet<string> turnIds)
    {
        var evidence = new List<string>();
        int salvaged = 0, dropped = 0;
        if (!qa.TryGetProperty("evidence", out var raw) || raw.ValueKind != JsonValueKind.Array || raw.GetArrayLength() == 0)
            return (evidence, EmptyEvidence, 0, 0);

        foreach (var item in raw.EnumerateArray())
        {
            var text = item.ValueKind == JsonValueKind.String ? item.GetString()!.Trim() : "";
            if (WellFormedId().IsMatch(text))
            {
                evidence.Add(text);
                continue;
            }
            // Salvage only what reads one way: "D8:6; D9:17" is two ids, "D:11:26" is D11:26. A bare "D" is not.
            var pieces = text.Split([';', ',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var repaired = pieces.Select(p => LooseId().Match(p)).ToList();
            if (pieces.Length == 0 || repaired.Any(m => !m.Success))
                return (evidence, MalformedEvidence, salvaged, dropped);
            evidence.AddRange(repaired.Select(m => $"D{int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)}:{int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)}"));
            salvaged++;
        }

        dropped = evidence.RemoveAll(id => !turnIds.Contains(id));
        evidence = evidence.Distinct(StringComparer.Ordinal).ToList();
        return evidence.Count == 0 ? (evidence, EvidenceNotInConversation, salvaged, dropped) : (evidence, null, salvaged, dropped);
    }

    [GeneratedRegex(@"^session_(\d+)$")]
    private static partial Regex SessionName();

    [GeneratedRegex(@"^D\d+:\d+$")]
    private static partial Regex WellFormedId();

    [GeneratedRegex(@"^D\s*:?\s*(\d+)\s*:\s*(\d+)$", RegexOptions.IgnoreCase)]
    private static partial Regex LooseId();
}
