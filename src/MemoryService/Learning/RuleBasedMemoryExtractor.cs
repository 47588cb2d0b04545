using System.Text.RegularExpressions;
using MemoryService.Memories;

namespace MemoryService.Learning;

/// <summary>
/// The built-in extractor: reads explicit first-person English statements with a table of patterns
/// (<see cref="ExtractionRules"/>), so learning works without an LLM. It favours precision: anything that is
/// not a plain assertion about the user (questions, hypotheticals, wishes, reported speech) is skipped.
/// Stateless and thread-safe.
/// </summary>
public sealed partial class RuleBasedMemoryExtractor : IMemoryExtractor
{
    private const RegexOptions Options = Lookaround | RegexOptions.NonBacktracking;
    // For the patterns with a lookahead (not supported by NonBacktracking); they run on short clauses, with a timeout.
    private const RegexOptions Lookaround = RegexOptions.IgnoreCase | RegexOptions.CultureInvariant;

    private static readonly Dictionary<string, string> Contractions = new(StringComparer.OrdinalIgnoreCase)
    {
        ["i'm"] = "I am", ["im"] = "I am", ["i've"] = "I have", ["ive"] = "I have", ["i'll"] = "I will", ["i'd"] = "I would",
        ["we're"] = "we are", ["we've"] = "we have", ["we'll"] = "we will", ["we'd"] = "we would",
        ["can't"] = "cannot", ["cant"] = "cannot", ["can not"] = "cannot", ["don't"] = "do not", ["dont"] = "do not",
        ["doesn't"] = "does not", ["doesnt"] = "does not", ["didn't"] = "did not", ["didnt"] = "did not",
        ["won't"] = "will not", ["isn't"] = "is not", ["aren't"] = "are not", ["wasn't"] = "was not",
        ["haven't"] = "have not", ["hasn't"] = "has not",
    };

    public Task<ExtractionResult> ExtractAsync(
        IReadOnlyList<ConversationMessage> messages,
        DateTimeOffset observedAt,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var today = DateOnly.FromDateTime(observedAt.DateTime);
        var candidates = new List<MemoryCandidate>();
        var failed = new List<ExtractionFailure>();

        // 1. Only the user's own words are evidence about the user; the assistant may be guessing.
        var userTurns = messages.Where(m => string.Equals(m.Role, ConversationMessage.User, StringComparison.OrdinalIgnoreCase))
            .TakeLast(ReadingLimits.MaxMessages);
        foreach (var message in userTurns)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // 2. Read sentence by sentence, clause by clause, up to the per-message bounds.
            var content = message.Content ?? "";
            var budget = new ClauseBudget(ReadingLimits.MaxClausesPerMessage);
            foreach (var sentence in Sentences(content.Length > ReadingLimits.MaxMessageChars ? content[..ReadingLimits.MaxMessageChars] : content))
            {
                if (budget.Spent)
                    break;
                try
                {
                    ReadSentence(sentence, observedAt, today, candidates, failed, budget);
                }
                catch (RegexMatchTimeoutException)
                {
                    failed.Add(new ExtractionFailure(Excerpt(sentence), "statement too long or tangled to read"));
                }
            }
        }

        // 3. Within one conversation the last word on a topic wins ("I prefer coffee... actually, tea").
        return Task.FromResult(new ExtractionResult(LastPerKey(candidates), failed));
    }

    /// <summary>Splits after . ! ? ; and at line breaks, keeping the punctuation with its sentence (a "?" marks a question).</summary>
    internal static IEnumerable<string> Sentences(string text)
    {
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var breaks = c is '\r' or '\n' || (c is '.' or '!' or '?' or ';' && i + 1 < text.Length && char.IsWhiteSpace(text[i + 1]));
            if (!breaks)
                continue;
            var end = c is '\r' or '\n' ? i : i + 1;
            if (end > start && text.AsSpan(start, end - start).Trim().Length > 0)
                yield return text[start..end].Trim();
            start = end;
        }
        if (start < text.Length && text.AsSpan(start).Trim().Length > 0)
            yield return text[start..].Trim();
    }

    private sealed class ClauseBudget(int clauses)
    {
        public int Left = clauses;
        public bool Spent => Left <= 0;
    }

    private static string Excerpt(string text) => text.Length <= 300 ? text : text[..300] + "…";

    private static void ReadSentence(string sentence, DateTimeOffset observedAt, DateOnly today, List<MemoryCandidate> candidates,
        List<ExtractionFailure> failed, ClauseBudget budget)
    {
        if (sentence.Length == 0)
            return;
        var text = LeadingChatter().Replace(Normalise(sentence), "");
        if (IsQuestion(sentence, text) || NotAnAssertion().IsMatch(text))
            return;

        // "From now on" makes a bare imperative ("answer in German") a lasting instruction.
        var standing = FromNowOn().IsMatch(text);
        if (standing)
            text = FromNowOn().Replace(text, " ");

        foreach (var part in Clauses(text))
        {
            if (budget.Left-- <= 0)
                return;
            if (part.Length > ReadingLimits.MaxClauseChars)
                continue;
            var clause = ReadClause(part, today, standing);
            if (clause is null)
                continue;
            if (ApplyFirstRule(clause, sentence, observedAt, candidates) == RuleOutcome.NoRuleFit && LooksMemorable(clause))
                failed.Add(new ExtractionFailure(sentence, clause.Date is null
                    ? "first-person statement matched no rule"
                    : "first-person statement with a date matched no rule"));
        }
    }

    private static Clause? ReadClause(string part, DateOnly today, bool standing)
    {
        var text = Tidy(part);
        var date = RelativeDates.Find(text, today);
        if (date is not null)
            text = Tidy(text.Remove(date.Index, date.Length));
        // A clock time ("at 3", "at 9:30am") belongs to the date, not to what the event is called.
        text = Tidy(ClockTime().Replace(text, ""));
        return text.Length == 0 ? null : new Clause(text, date, standing);
    }

    private enum RuleOutcome { Read, Declined, NoRuleFit }

    private static RuleOutcome ApplyFirstRule(Clause clause, string evidence, DateTimeOffset observedAt, List<MemoryCandidate> candidates)
    {
        var outcome = RuleOutcome.NoRuleFit;
        foreach (var rule in ExtractionRules.All)
        {
            if (rule.NeedsDate && clause.Date is null)
                continue;
            var match = rule.Pattern.Match(clause.Text);
            if (!match.Success)
                continue;
            var findings = rule.Read(match, clause);
            if (findings.Length == 0)
            {
                outcome = RuleOutcome.Declined; // the pattern fit but the words did not ("I love it"): let a later rule try
                continue;
            }

            DateTimeOffset? eventDate = rule.Kind == MemoryKind.Event && clause.Date is not null
                ? new DateTimeOffset(clause.Date.Date.ToDateTime(TimeOnly.MinValue), observedAt.Offset)
                : null;
            foreach (var finding in findings)
                candidates.Add(new MemoryCandidate(rule.Kind, finding.Content, finding.Key, rule.Importance, rule.Confidence, eventDate, evidence));
            return RuleOutcome.Read;
        }
        return outcome;
    }

    private static string Normalise(string sentence)
    {
        var text = sentence.Replace('\u2019', '\'').Replace('\u2018', '\'').Replace('\u201C', '"').Replace('\u201D', '"');
        return Contraction().Replace(text, m => Contractions.TryGetValue(m.Value, out var full) ? full : m.Value);
    }

    private static string Tidy(string text) =>
        TrailingChatter().Replace(Whitespace().Replace(text, " "), "").Trim().Trim(',', '.', '!', ';', ':', '-', '"', ' ');

    private static bool IsQuestion(string sentence, string text) =>
        sentence.TrimEnd().EndsWith('?') || QuestionStart().IsMatch(text);

    private static bool LooksMemorable(Clause clause) =>
        FirstPersonStart().IsMatch(clause.Text) && (clause.Date is not null || MemoryVerb().IsMatch(clause.Text));

    private static List<MemoryCandidate> LastPerKey(List<MemoryCandidate> candidates)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var kept = new List<MemoryCandidate>(candidates.Count);
        for (var i = candidates.Count - 1; i >= 0; i--)
        {
            if (seen.Add(candidates[i].Key))
                kept.Add(candidates[i]);
        }
        kept.Reverse();
        return kept;
    }

    /// <summary>The clauses of a sentence: a break ends before the subject of the next clause, which starts it.</summary>
    private static IEnumerable<string> Clauses(string text)
    {
        var start = 0;
        foreach (Match m in ClauseBreak().Matches(text))
        {
            yield return text[start..m.Index];
            start = m.Groups["next"].Success ? m.Groups["next"].Index : m.Index + m.Length;
        }
        yield return text[start..];
    }

    // Commas and "and"/"but" only split where a new first-person clause starts, so lists stay whole.
    [GeneratedRegex(@"\s*;\s*|,\s*(?:and\s+|but\s+|so\s+)?(?<next>(?:I|we|my|our)\b)|\s+(?:and|but|so)\s+(?<next>(?:I|we|my|our)\b)", Options)]
    private static partial Regex ClauseBreak();

    // Every alternative ends in a letter, so \b says "not inside a longer word".
    [GeneratedRegex(@"\b(?:i'm|im|i've|ive|i'll|i'd|we're|we've|we'll|we'd|can't|cant|can not|don't|dont|doesn't|doesnt|didn't|didnt|won't|isn't|aren't|wasn't|haven't|hasn't)\b", Options)]
    private static partial Regex Contraction();

    [GeneratedRegex(@"^(?:(?:hi|hey|hello|ok|okay|so|well|oh|also|and|but|actually|honestly|btw|by the way|fyi|just so you know|for the record|anyway|anyways|cool|great|yeah|yes|yep|no|nope|fun fact|as you know|remember that|remember|note that|please note that|for context|alright|sure|nice|thanks|thank you|oh and)\b[\s,!.:;-]*)+", Options)]
    private static partial Regex LeadingChatter();

    [GeneratedRegex(@"(?:\s*,?\s*\b(?:btw|tbh|lol|haha|by the way|fyi|honestly|thanks|thank you|please|just so you know)\b)+[\s.!]*$|\s*(?::\)|:-\)|:D|;\))\s*$", Options)]
    private static partial Regex TrailingChatter();

    [GeneratedRegex(@"\s*,?\s*\bfrom now on\b,?\s*", Options)]
    private static partial Regex FromNowOn();

    [GeneratedRegex(@"\s*\b(?:at|by|around|from)\s+(?:\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.|o'clock)?|noon|midnight)(?!\w)", Lookaround, ReadingLimits.MatchTimeoutMs)]
    private static partial Regex ClockTime();

    [GeneratedRegex(@"\s+", RegexOptions.NonBacktracking)]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"^(?:do(?!\s+not\b)|does|did|what|what's|whats|where|when|why|how|who|whom|which|can|could|should|would|will|is|are|am|was|were|shall|may|might|any)\b", Lookaround, ReadingLimits.MatchTimeoutMs)]
    private static partial Regex QuestionStart();

    // Hypotheticals, wishes, hedges and reported speech: none of them is the user stating a settled fact.
    // A trailing condition on the assistant ("..., if you add breakfasts") still leaves a statement; "if I" does not.
    [GeneratedRegex(@"^(?:even\s+)?if\b|\b(?:if\s+(?:I|we)|what if|suppose|supposing|imagine|pretend|assuming|hypothetically|would|could|might|wish|hope|hoping|someday|some day|one day|maybe|perhaps|dream of|dreaming of|want to|wants to|wanna|said|says|say that|told|tells|telling|thinks|think|thought|believes?|claims?|according to|heard|mentioned|reckons?|apparently|supposedly|as if)\b", Options)]
    private static partial Regex NotAnAssertion();

    [GeneratedRegex(@"^(?:I|we|my|our)\b", Options)]
    private static partial Regex FirstPersonStart();

    [GeneratedRegex(@"\b(?:love|like|enjoy|hate|prefer|live|moved|work|allergic|vegetarian|vegan|named|called|birthday)\b", Options)]
    private static partial Regex MemoryVerb();
}
