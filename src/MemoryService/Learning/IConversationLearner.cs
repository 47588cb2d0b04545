namespace MemoryService.Learning;

/// <summary>
/// Learns from a conversation: extracts candidate memories, reconciles them with what is known about the
/// user (add, no-op, update, supersede) and writes the outcome in one transaction. Chat calls it with
/// <c>learn: true</c> after replying, off the response path.
/// </summary>
public interface IConversationLearner
{
    Task<LearningOutcome> LearnAsync(Guid tenantId, string userId, IReadOnlyList<ConversationMessage> messages,
        DateTimeOffset observedAt, bool dryRun, string actor, CancellationToken cancellationToken = default);
}

/// <summary>One decision per candidate, and what could not be extracted.</summary>
public sealed record LearningOutcome(IReadOnlyList<LearningDecision> Decisions, IReadOnlyList<ExtractionFailure> Failed);

public enum LearningAction
{
    Add,
    Noop,
    Update,
    Supersede,
}

public sealed record LearningDecision(LearningAction Action, MemoryCandidate Candidate, IReadOnlyList<Guid> MemoryIds, string Reason);
