namespace MemoryService.Learning;

/// <summary>
/// Bounds on the built-in extractor's work, so no conversation can pin a core. Every pattern runs on the
/// NonBacktracking engine (time linear in the text); the few that need a lookaround keep the backtracking engine
/// with <see cref="MatchTimeoutMs"/>, and run only on clauses already cut to <see cref="MaxClauseChars"/>.
/// </summary>
internal static class ReadingLimits
{
    /// <summary>For the backtracking patterns; a timeout skips the clause (reported as a failure), never the request.</summary>
    public const int MatchTimeoutMs = 200;

    /// <summary>User turns read per extraction: the latest ones, since the last word on a topic wins anyway.</summary>
    public const int MaxMessages = 100;

    /// <summary>Characters of one message that are read; the API already caps a message at 8,000.</summary>
    public const int MaxMessageChars = 8_000;

    /// <summary>Clauses read per message; statements about oneself come long before the 100th.</summary>
    public const int MaxClausesPerMessage = 100;

    /// <summary>A longer clause is not a plain statement about the user: it is skipped unread.</summary>
    public const int MaxClauseChars = 300;
}
