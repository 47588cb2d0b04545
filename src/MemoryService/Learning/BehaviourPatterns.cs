using System.Text.RegularExpressions;
using MemoryService.Memories;

namespace MemoryService.Learning;

/// <summary>
/// One request seen in a user's turn that says how the user wants answers ("shorter, please", "in Spanish"):
/// not a statement worth remembering on its own, but a standing preference once it repeats across conversations.
/// </summary>
/// <param name="Key">The key the standing preference would have (response_length, response_language, ...).</param>
/// <param name="Value">What is asked for on that key (short, detailed, spanish, ...); counts are kept per key and value.</param>
/// <param name="Content">The standing preference, e.g. "Prefers short answers".</param>
/// <param name="Evidence">The turn it was seen in, cut to 300 characters.</param>
public sealed record BehaviourSignal(string Key, string Value, string Content, string Evidence);

/// <summary>
/// The built-in table of requests about the form of answers, read from every user turn whichever extractor is in
/// use: the model extractor is told to ignore one-off requests, so counting them is the pipeline's own work.
/// Every pattern is NonBacktracking; the values come from closed lists, so the signals an owner can have are bounded.
/// </summary>
public static partial class BehaviourPatterns
{
    private const RegexOptions Options = RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.NonBacktracking;

    private const string Languages = "english|spanish|french|german|italian|portuguese|dutch|polish|swedish|danish|norwegian|finnish|greek|turkish|russian|ukrainian|arabic|hebrew|hindi|japanese|chinese|mandarin|korean|vietnamese|indonesian|catalan|czech|romanian|hungarian";

    /// <summary>The keys a signal can have: an explicit statement on one of them clears its count.</summary>
    public static readonly IReadOnlySet<string> Keys = new HashSet<string>(StringComparer.Ordinal)
        { "response_length", "response_language", "emoji_usage", "formatting" };

    /// <summary>The evidence kept per signal.</summary>
    public const int MaxEvidenceChars = 300;

    private static readonly (Regex Pattern, string Key, string Value, string Content)[] Table =
    [
        (Shorter(), "response_length", "short", "Prefers short answers"),
        (Longer(), "response_length", "detailed", "Prefers detailed answers"),
        (NoEmoji(), "emoji_usage", "none", "Prefers answers without emoji"),
        (Bullets(), "formatting", "bullet_points", "Prefers answers as bullet points"),
    ];

    /// <summary>
    /// The signals in the user's turns of one conversation, at most one per key and value (the first turn that
    /// shows it is the evidence). Reads the latest <see cref="ReadingLimits.MaxMessages"/> user turns, each cut to
    /// <see cref="ReadingLimits.MaxMessageChars"/>.
    /// </summary>
    public static IReadOnlyList<BehaviourSignal> Find(IReadOnlyList<ConversationMessage> messages)
    {
        var found = new Dictionary<(string, string), BehaviourSignal>();
        foreach (var message in messages.Where(m => string.Equals(m.Role, ConversationMessage.User, StringComparison.OrdinalIgnoreCase))
                     .TakeLast(ReadingLimits.MaxMessages))
        {
            var text = message.Content ?? "";
            if (text.Length > ReadingLimits.MaxMessageChars) text = text[..ReadingLimits.MaxMessageChars];
            var evidence = text.Length <= MaxEvidenceChars ? text.Trim() : text[..MaxEvidenceChars].Trim() + "…";
            foreach (var (pattern, key, value, content) in Table)
                if (pattern.IsMatch(text)) found.TryAdd((key, value), new BehaviourSignal(key, value, content, evidence));
            if (Language().Match(text) is { Success: true } m)
            {
                var language = m.Groups["lang"].Value.ToLowerInvariant();
                if (language == "mandarin") language = "chinese";
                found.TryAdd(("response_language", language),
                    new BehaviourSignal("response_language", language, $"Prefers answers in {Phrases.Capitalise(language)}", evidence));
            }
        }
        return found.Values.ToList();
    }

    /// <summary>The candidate a signal seen often enough becomes: a preference like an explicitly stated one.</summary>
    public static MemoryCandidate Candidate(BehaviourSignal signal, IReadOnlyList<string> evidence) =>
        new(MemoryKind.Preference, signal.Content, signal.Key, Importance: 0.7, Confidence: 0.75, EventDate: null,
            Evidence: string.Join(" | ", evidence));

    [GeneratedRegex(@"\b(?:shorter|too long|more concise|be (?:brief|concise)|keep it (?:short|brief)|tl;?dr|less verbose|too verbose|too wordy|fewer words|(?:just|only) the (?:short|quick) (?:answer|version))\b", Options)]
    private static partial Regex Shorter();

    [GeneratedRegex(@"\b(?:more details?|more detailed|in (?:more )?(?:detail|depth)|longer (?:answer|explanation|reply|version)|elaborate|too short|go deeper)\b", Options)]
    private static partial Regex Longer();

    [GeneratedRegex(@"\b(?:no|without|fewer|less|stop using|drop the)\s+emojis?\b", Options)]
    private static partial Regex NoEmoji();

    [GeneratedRegex(@"\b(?:(?:as|in|use|with) (?:a )?bullet(?:ed)? (?:points?|list)|bullet points,? please)\b", Options)]
    private static partial Regex Bullets();

    // "in Spanish" after a verb of answering or translating ("reply in Spanish", "can you say that in French"),
    // or a turn that is only the language ("Spanish, please", "in Spanish please").
    [GeneratedRegex(@"\b(?:answer|reply|respond|write|say|explain|tell me|translate|speak|talk|continue|repeat)\b[^.!?\n]{0,40}\b(?:in|into)\s+(?<lang>" + Languages + @")\b|^\s*(?:in\s+)?(?<lang>" + Languages + @")\s*,?\s*(?:please|pls)?\s*[.!]?\s*$", Options)]
    private static partial Regex Language();
}
