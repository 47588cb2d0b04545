namespace MemoryService.Embeddings;

/// <summary>
/// The embedding provider could not produce vectors (unreachable, timed out, or still failing after retries).
/// The API maps it to 503: the request was fine, a dependency was not.
/// </summary>
public sealed class EmbeddingUnavailableException : Exception
{
    public EmbeddingUnavailableException(string provider, string reason, Exception? innerException = null)
        : base($"Embedding provider '{provider}' is unavailable: {reason}", innerException)
    {
        Provider = provider;
    }

    /// <summary>Provider name and endpoint, e.g. "openai (http://localhost:11434/v1)".</summary>
    public string Provider { get; }
}
