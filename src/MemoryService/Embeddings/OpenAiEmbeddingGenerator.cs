using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Embeddings;
using Polly;
using Polly.Retry;
using Polly.Timeout;
using EmbeddingGenerationOptions = Microsoft.Extensions.AI.EmbeddingGenerationOptions;

namespace MemoryService.Embeddings;

/// <summary>
/// Embeds through any OpenAI-compatible <c>/v1/embeddings</c> endpoint (OpenAI, Azure OpenAI, Ollama, vLLM, TEI,
/// LM Studio) with Microsoft.Extensions.AI's generator over the official SDK. What this adds around it: batches of
/// <see cref="EmbeddingsOptions.BatchSize"/>, a timeout per attempt, retries with exponential backoff (and a 429's
/// Retry-After) on 429, 5xx, timeouts and connection failures, a check of every vector's length, and
/// <see cref="EmbeddingUnavailableException"/> when that is not enough.
/// </summary>
public sealed class OpenAiEmbeddingGenerator : DelegatingEmbeddingGenerator<string, Embedding<float>>
{
    private static readonly TimeSpan DefaultRetryBaseDelay = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(30);

    private readonly ResiliencePipeline _pipeline;
    private readonly EmbeddingsOptions _options;
    private readonly EmbeddingGeneratorMetadata _metadata;
    private readonly ILogger _logger;
    private readonly string _providerName;

    /// <param name="options">Needs <c>BaseUrl</c> and <c>Model</c>; the rest have defaults.</param>
    /// <param name="logger">Logs each retry.</param>
    public OpenAiEmbeddingGenerator(EmbeddingsOptions options, ILogger<OpenAiEmbeddingGenerator>? logger = null)
        : this(options, logger, DefaultRetryBaseDelay)
    {
    }

    // Tests shorten the backoff; production keeps the default.
    internal OpenAiEmbeddingGenerator(EmbeddingsOptions options, ILogger? logger, TimeSpan retryBaseDelay) : base(CreateInner(options))
    {
        _options = options;
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _providerName = $"openai ({options.BaseUrl})";
        // The dimensions are part of the identity: a model asked for 256 dimensions answers in another space than at 1536.
        ModelId = $"openai:{options.Model}:{options.Dimensions}";
        Dimensions = options.Dimensions;
        _metadata = new EmbeddingGeneratorMetadata("openai", options.BaseUrl, ModelId, options.Dimensions);
        _pipeline = BuildPipeline(options, retryBaseDelay);
    }

    private static IEmbeddingGenerator<string, Embedding<float>> CreateInner(EmbeddingsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.BaseUrl is null) throw new ArgumentException("Embeddings:BaseUrl is required for the openai provider.", nameof(options));
        if (string.IsNullOrWhiteSpace(options.Model)) throw new ArgumentException("Embeddings:Model is required for the openai provider.", nameof(options));
        return new EmbeddingClient(
            options.Model,
            // Local servers ignore the key, but the SDK refuses an empty one.
            new ApiKeyCredential(string.IsNullOrEmpty(options.ApiKey) ? "unused" : options.ApiKey),
            new OpenAIClientOptions
            {
                Endpoint = options.BaseUrl,
                // Our pipeline below is the only retry layer; two layers would multiply attempts and hide the timeout.
                RetryPolicy = new ClientRetryPolicy(0),
                // The Polly timeout governs each attempt; this only stops the SDK's 100 s default from being shorter.
                NetworkTimeout = TimeSpan.FromSeconds(options.TimeoutSeconds + 5),
            }).AsIEmbeddingGenerator();
    }

    /// <summary>Id recorded with every vector, e.g. "openai:text-embedding-3-small:1536".</summary>
    public string ModelId { get; }

    /// <summary>Length of every vector (the configured <see cref="EmbeddingsOptions.Dimensions"/>).</summary>
    public int Dimensions { get; }

    public override async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var inputs = values as IReadOnlyList<string> ?? values.ToList();
        var dimensions = options?.Dimensions ?? Dimensions;
        // Without Dimensions the request carries no "dimensions" field (for servers and models that reject it).
        var request = new EmbeddingGenerationOptions { Dimensions = _options.SendDimensions ? dimensions : null };

        var result = new GeneratedEmbeddings<Embedding<float>>(inputs.Count);
        // Batches go one after another: a memory write rarely has more than one, and a backfill should not flood the server.
        for (var offset = 0; offset < inputs.Count; offset += _options.BatchSize)
        {
            var batch = inputs.Skip(offset).Take(_options.BatchSize).ToList();
            var generated = await SendAsync(batch, request, cancellationToken);
            if (generated.Count != batch.Count)
                throw new EmbeddingUnavailableException(_providerName, $"asked for {batch.Count} embeddings, got {generated.Count}.");

            var created = DateTimeOffset.UtcNow;
            foreach (var item in generated)
            {
                if (item.Vector.Length != dimensions)
                    throw new InvalidOperationException(
                        $"Model '{_options.Model}' at {_options.BaseUrl} returned {item.Vector.Length} dimensions, but Embeddings:Dimensions is {dimensions}.");
                result.Add(new Embedding<float>(item.Vector) { ModelId = ModelId, CreatedAt = created });
            }

            if (generated.Usage is { } usage)
            {
                result.Usage ??= new UsageDetails { InputTokenCount = 0, TotalTokenCount = 0 };
                result.Usage.InputTokenCount += usage.InputTokenCount;
                result.Usage.TotalTokenCount += usage.TotalTokenCount;
            }
        }
        return result;
    }

    private async Task<GeneratedEmbeddings<Embedding<float>>> SendAsync(List<string> batch, EmbeddingGenerationOptions request, CancellationToken cancellationToken)
    {
        try
        {
            return await _pipeline.ExecuteAsync(
                static (state, ct) => new ValueTask<GeneratedEmbeddings<Embedding<float>>>(state.Inner.GenerateAsync(state.Batch, state.Request, ct)),
                (Inner: InnerGenerator, Batch: batch, Request: request),
                cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (TimeoutRejectedException ex)
        {
            throw new EmbeddingUnavailableException(_providerName, $"no answer within {_options.TimeoutSeconds} s{Attempts()}.", ex);
        }
        catch (ClientResultException ex) when (ex.Status == 0)
        {
            throw new EmbeddingUnavailableException(_providerName, $"cannot connect{Attempts()}: {ex.Message}", ex);
        }
        catch (ClientResultException ex)
        {
            throw new EmbeddingUnavailableException(_providerName, $"HTTP {ex.Status}{Attempts()}: {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            throw new EmbeddingUnavailableException(_providerName, $"request failed{Attempts()}: {ex.Message}", ex);
        }
    }

    private string Attempts() => _options.MaxRetries > 0 ? $" after {_options.MaxRetries + 1} attempts" : "";

    private ResiliencePipeline BuildPipeline(EmbeddingsOptions options, TimeSpan retryBaseDelay)
    {
        var builder = new ResiliencePipelineBuilder();
        if (options.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = retryBaseDelay,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } ex && IsTransient(ex, args.Context.CancellationToken)),
                // A 429 often says how long to wait; honour it within reason.
                DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Exception)),
                OnRetry = args =>
                {
                    _logger.LogWarning(args.Outcome.Exception, "Embedding request to {Provider} failed (attempt {Attempt}); retrying in {Delay}.",
                        _providerName, args.AttemptNumber + 1, args.RetryDelay);
                    return ValueTask.CompletedTask;
                },
            });
        }
        // Inside the retry, so the timeout applies to each attempt rather than to the whole call.
        builder.AddTimeout(TimeSpan.FromSeconds(options.TimeoutSeconds));
        return builder.Build();
    }

    private static bool IsTransient(Exception exception, CancellationToken callerToken) => exception switch
    {
        ClientResultException { Status: 0 or 408 or 429 or >= 500 } => true,
        TimeoutRejectedException or HttpRequestException or IOException => true,
        // The SDK's own network timeout surfaces as a cancellation nobody asked for.
        OperationCanceledException => !callerToken.IsCancellationRequested,
        _ => false,
    };

    private static TimeSpan? RetryAfter(Exception? exception)
    {
        if (exception is ClientResultException { Status: 429 } ex
            && ex.GetRawResponse()?.Headers.TryGetValue("Retry-After", out var value) == true
            && double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            && seconds >= 0)
        {
            var delay = TimeSpan.FromSeconds(seconds);
            return delay < MaxRetryAfter ? delay : MaxRetryAfter;
        }
        return null; // fall back to the exponential backoff
    }

    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        // Our identity (with the dimensions), not the inner generator's bare model name.
        if (serviceKey is null && serviceType == typeof(EmbeddingGeneratorMetadata)) return _metadata;
        return base.GetService(serviceType, serviceKey);
    }
}
