using Npgsql;

namespace MemoryService.Learning;

/// <summary>
/// Learns from a conversation: extracts candidate memories, reconciles them with what is known about the
/// user (add, no-op, update, supersede) and writes the outcome in one transaction. Chat calls it with
/// <c>learn: true</c> after replying, off the response path.
/// </summary>
public interface IConversationLearner
{
    /// <remarks>
    /// <c>guard</c> runs inside the write transaction, under the owner's lock, before anything is written (a learning
    /// job checks and deletes its own row there); false means write nothing, and the outcome says <c>Discarded</c>.
    /// <c>conversation</c> names the conversation the messages belong to, so that a request repeated within one
    /// conversation counts once towards a preference learned from behaviour; null = these messages are a conversation of their own.
    /// </remarks>
    Task<LearningOutcome> LearnAsync(Guid tenantId, string userId, IReadOnlyList<ConversationMessage> messages,
        DateTimeOffset observedAt, bool dryRun, string actor, WriteGuard? guard = null, CancellationToken cancellationToken = default,
        string? conversation = null);
}

/// <summary>A last check inside the learner's write transaction; false = write nothing.</summary>
public delegate Task<bool> WriteGuard(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken);

/// <summary>One decision per candidate, and what could not be extracted.</summary>
public sealed record LearningOutcome(IReadOnlyList<LearningDecision> Decisions, IReadOnlyList<ExtractionFailure> Failed)
{
    /// <summary>The guard refused the write (the job was erased or taken over): nothing was written.</summary>
    public bool Discarded { get; init; }
}

public enum LearningAction
{
    Add,
    Noop,
    Update,
    Supersede,

    /// <summary>A request repeated across conversations became a standing preference (new, or superseding the key's current one).</summary>
    Promote,
}

public sealed record LearningDecision(LearningAction Action, MemoryCandidate Candidate, IReadOnlyList<Guid> MemoryIds, string Reason)
{
    /// <summary>For a preference learned from behaviour: the turns, one per conversation, that showed it (oldest first).</summary>
    public IReadOnlyList<SignalSighting>? Supporting { get; init; }
}
