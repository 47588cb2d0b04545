using System.ComponentModel.DataAnnotations;

namespace MemoryService.Llm;

/// <summary>Configuration section "Llm": the chat model behind /chat and the OpenAI-compatible proxy.</summary>
public sealed class LlmOptions : IValidatableObject
{
    public const string SectionName = "Llm";

    /// <summary>
    /// "none" (default: no model, chat answers 503), "openai" (any OpenAI-compatible /v1/chat/completions server),
    /// "azure-openai" (an Azure OpenAI resource's v1 API), "ollama" (Ollama's native /api/chat) or "anthropic"
    /// (Anthropic's Messages API).
    /// </summary>
    [Required]
    public string Provider { get; set; } = LlmProviders.None;

    /// <summary>
    /// Where the model server is; no default, the operator names it. openai: the base URL including "/v1"
    /// (http://localhost:8000/v1 for vLLM); azure-openai: the resource's endpoint ending in "/openai/v1/";
    /// ollama: the server root (http://localhost:11434); anthropic: the API root, without "/v1".
    /// </summary>
    public Uri? BaseUrl { get; set; }

    /// <summary>Default model, used when a request names none; always allowed.</summary>
    public string? Model { get; set; }

    /// <summary>
    /// Further models a request may name (chat's and the proxy's "model"); any other is a 400. Empty (the default):
    /// only <see cref="Model"/>, so a tenant cannot move the operator's spend to a dearer model.
    /// </summary>
    public string[] AllowedModels { get; set; } = [];

    /// <summary>
    /// Most tokens any one model call may write: chat, the proxy and learning's extraction calls alike. A request
    /// asking for more (or for no limit) is sent with this cap.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxOutputTokens { get; set; } = 4096;

    /// <summary>
    /// Whether the proxy passes "tools" / "functions" (tool calling) to the model. Off by default: a request that
    /// carries them is a 400, since tool loops multiply calls and this service does not run tools itself.
    /// </summary>
    public bool AllowTools { get; set; }

    /// <summary>API key; local servers usually accept any value, so it may be left empty.</summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// How long to wait for the model: for the whole reply, or when streaming for the first chunk and
    /// between chunks. Exceeding it is a 504.
    /// </summary>
    [Range(1, 3600)]
    public int TimeoutSeconds { get; set; } = 60;

    /// <summary>
    /// Retries on 429, 5xx and connection failures, inside the timeout: by the SDK (openai, azure-openai, anthropic),
    /// or by <see cref="HttpRetryHandler"/> for ollama, whose package has none.
    /// </summary>
    [Range(0, 10)]
    public int MaxRetries { get; set; } = 2;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!LlmProviders.All.Contains(Provider, StringComparer.OrdinalIgnoreCase))
            yield return new ValidationResult(
                $"Unknown LLM provider '{Provider}'. Set Llm:Provider to one of: {string.Join(", ", LlmProviders.All)}.", [nameof(Provider)]);
        if (!string.Equals(Provider, LlmProviders.None, StringComparison.OrdinalIgnoreCase))
        {
            var provider = Provider.ToLowerInvariant();
            if (BaseUrl is null || !BaseUrl.IsAbsoluteUri)
                yield return new ValidationResult($"Llm:BaseUrl must be an absolute URL when Llm:Provider is '{provider}'.", [nameof(BaseUrl)]);
            if (string.IsNullOrWhiteSpace(Model))
                yield return new ValidationResult($"Llm:Model is required when Llm:Provider is '{provider}'.", [nameof(Model)]);
        }
        if (AllowedModels.Any(string.IsNullOrWhiteSpace))
            yield return new ValidationResult("Llm:AllowedModels entries must be model names, not empty.", [nameof(AllowedModels)]);
    }

    /// <summary>True when a request may name <paramref name="model"/>: the configured one or one of <see cref="AllowedModels"/>.</summary>
    public bool IsAllowedModel(string model) =>
        string.Equals(model, Model, StringComparison.Ordinal) || AllowedModels.Contains(model, StringComparer.Ordinal);

    /// <summary>The 400 message for a model that is not allowed.</summary>
    public string ModelNotAllowed(string model) =>
        $"Model '{model}' is not allowed here; use {string.Join(", ", new[] { Model }.Concat(AllowedModels).Distinct().Select(m => $"'{m}'"))} " +
        "(Llm:Model, Llm:AllowedModels), or leave it out for the default.";
}

/// <summary>Names accepted in <see cref="LlmOptions.Provider"/>.</summary>
public static class LlmProviders
{
    public const string None = "none";
    public const string OpenAi = "openai";
    public const string AzureOpenAi = "azure-openai";
    public const string Ollama = "ollama";
    public const string Anthropic = "anthropic";
    public static readonly IReadOnlyList<string> All = [None, OpenAi, AzureOpenAi, Ollama, Anthropic];

    /// <summary>The 503 detail when no model is configured.</summary>
    public const string NotConfigured =
        "No chat model is configured. Set Llm:Provider=openai (or azure-openai, ollama, anthropic), Llm:BaseUrl (where that " +
        "server is, e.g. http://localhost:11434 for a local Ollama) and Llm:Model (plus Llm:ApiKey for hosted APIs), then restart.";
}

/// <summary>The model could not be reached or answered with an error: a 502.</summary>
public sealed class ModelFailedException(string message, int? upstreamStatus = null, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The model server's HTTP status, when it answered at all.</summary>
    public int? UpstreamStatus { get; } = upstreamStatus;
}

/// <summary>The model did not answer within Llm:TimeoutSeconds: a 504.</summary>
public sealed class ModelTimeoutException(string message) : Exception(message);
