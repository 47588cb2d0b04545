using System.ComponentModel.DataAnnotations;

namespace MemoryService.Embeddings;

/// <summary>Configuration section "Embeddings": which provider turns text into vectors, and how to reach it.</summary>
public sealed class EmbeddingsOptions : IValidatableObject
{
    public const string SectionName = "Embeddings";

    /// <summary>
    /// "hashing" (built-in word hashing, fastest, lexical), "local" (a sentence-embedding model run in-process,
    /// <see cref="Model"/> "minilm" or "arctic-xs") or "openai" (any OpenAI-compatible /v1/embeddings server).
    /// </summary>
    [Required]
    public string Provider { get; set; } = EmbeddingProviders.Hashing;

    /// <summary>Vector length (hashing buckets, or the openai "dimensions"); the local models are always 384.
    /// Part of the model identity: changing it re-embeds every memory in the background.</summary>
    [Range(8, 8192)]
    public int Dimensions { get; set; } = 384;

    /// <summary>Base URL of the OpenAI-compatible API, including "/v1" (e.g. http://localhost:11434/v1 for Ollama).</summary>
    public Uri? BaseUrl { get; set; }

    /// <summary>Model name sent to the server (openai), or the packaged model to run (local: "minilm" or "arctic-xs").</summary>
    public string? Model { get; set; }

    /// <summary>API key; local servers usually accept any value, so it may be left empty.</summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// Send <see cref="Dimensions"/> as the "dimensions" request field (openai provider). Turn off for
    /// servers or models that reject it (ada-002, some vLLM models); vectors must still have that length.
    /// </summary>
    public bool SendDimensions { get; set; } = true;

    /// <summary>Most texts sent in one request; servers cap the input array (OpenAI at 2048, TEI often at 32).</summary>
    [Range(1, 2048)]
    public int BatchSize { get; set; } = 64;

    /// <summary>Timeout of one HTTP attempt, not of the whole call with its retries.</summary>
    [Range(1, 600)]
    public int TimeoutSeconds { get; set; } = 15;

    /// <summary>Retries after the first attempt on 429, 5xx, timeouts and connection failures.</summary>
    [Range(0, 10)]
    public int MaxRetries { get; set; } = 3;

    /// <summary>Inference threads of the local model (ONNX Runtime intra-op threads); 0 = the machine's core count.</summary>
    [Range(0, 256)]
    public int Threads { get; set; }

    /// <summary>
    /// Local model: how long the first of several concurrent single-text requests waits for others to share its model call.
    /// </summary>
    [Range(0, 100)]
    public int BatchWindowMs { get; set; } = 2;

    /// <summary>Local model: most texts in one model call (a micro-batch of searches, or a chunk of a list).</summary>
    [Range(1, 256)]
    public int MaxBatch { get; set; } = 16;

    /// <summary>Recent query vectors kept (all providers): a repeated search does not embed its query again. 0 = off.</summary>
    [Range(0, 100_000)]
    public int QueryCacheSize { get; set; } = 2048;

    /// <summary>
    /// A batch create of at most this many items embeds inline, like a single create; a larger one is stored at once
    /// without vectors and the background worker embeds it (found by keywords and the other signals meanwhile).
    /// </summary>
    [Range(0, 1000)]
    public int InlineBatchItems { get; set; } = 1;

    /// <summary>
    /// Run the background worker that embeds stored batches and re-embeds memories of another model. Turn off on
    /// replicas that should leave it to others; memories stay pending until some replica runs it.
    /// </summary>
    public bool BackgroundWorker { get; set; } = true;

    /// <summary>How often the background worker looks for pending memories when nothing woke it (another replica's batch,
    /// a model that was down).</summary>
    [Range(1, 3600)]
    public int BackgroundPollSeconds { get; set; } = 30;

    public int EffectiveThreads => Threads > 0 ? Threads : Environment.ProcessorCount;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!EmbeddingProviders.All.Contains(Provider, StringComparer.OrdinalIgnoreCase))
        {
            yield return new ValidationResult(
                $"Unknown embeddings provider '{Provider}'. Use one of: {string.Join(", ", EmbeddingProviders.All)}.",
                [nameof(Provider)]);
        }

        if (string.Equals(Provider, EmbeddingProviders.OpenAi, StringComparison.OrdinalIgnoreCase))
        {
            if (BaseUrl is null || !BaseUrl.IsAbsoluteUri)
                yield return new ValidationResult("Embeddings:BaseUrl must be an absolute URL when Provider is 'openai'.", [nameof(BaseUrl)]);
            if (string.IsNullOrWhiteSpace(Model))
                yield return new ValidationResult("Embeddings:Model is required when Provider is 'openai'.", [nameof(Model)]);
        }

        if (string.Equals(Provider, EmbeddingProviders.Local, StringComparison.OrdinalIgnoreCase)
            && Model is not null && LocalModelSpec.Find(Model) is null)
        {
            yield return new ValidationResult(
                $"Unknown local embedding model '{Model}'. Use one of: {string.Join(", ", LocalModelSpec.All.Select(m => m.Name))}.", [nameof(Model)]);
        }
    }
}

/// <summary>Names accepted in <see cref="EmbeddingsOptions.Provider"/>.</summary>
public static class EmbeddingProviders
{
    public const string Hashing = "hashing";
    public const string OpenAi = "openai";
    public const string Local = "local";
    public static readonly IReadOnlyList<string> All = [Hashing, Local, OpenAi];
}
