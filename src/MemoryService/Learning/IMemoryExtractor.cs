namespace MemoryService.Learning;

/// <summary>
/// Turns a conversation into candidate memories about the user. Implementations only propose;
/// reconciling candidates with stored memories happens later in the learning pipeline.
/// </summary>
public interface IMemoryExtractor
{
    /// <summary>Extracts candidate memories from the user's turns of a conversation.</summary>
    /// <param name="messages">The conversation in order; roles are "user", "assistant" or "system".</param>
    /// <param name="observedAt">
    /// When the conversation took place. Relative dates ("tomorrow", "next Friday") resolve against it,
    /// so the same conversation always yields the same candidates.
    /// </param>
    /// <param name="cancellationToken">Cancels the extraction.</param>
    /// <returns>The candidates found and the statements that looked like memories but could not be read.</returns>
    Task<ExtractionResult> ExtractAsync(
        IReadOnlyList<ConversationMessage> messages,
        DateTimeOffset observedAt,
        CancellationToken cancellationToken = default);
}
