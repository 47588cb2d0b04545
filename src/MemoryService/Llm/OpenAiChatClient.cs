using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AiFinishReason = Microsoft.Extensions.AI.ChatFinishReason;
using AiResponseFormat = Microsoft.Extensions.AI.ChatResponseFormat;
using OpenAiChatMessage = OpenAI.Chat.ChatMessage;
using OpenAiFinishReason = OpenAI.Chat.ChatFinishReason;
using OpenAiResponseFormat = OpenAI.Chat.ChatResponseFormat;

namespace MemoryService.Llm;

/// <summary>
/// <see cref="IChatClient"/> over the official OpenAI SDK's <see cref="ChatClient"/>, for any OpenAI-compatible
/// <c>/v1/chat/completions</c> server (OpenAI, Azure OpenAI, Ollama, vLLM, LM Studio). Maps roles, text
/// messages, usage and the common <see cref="ChatOptions"/> (model, temperature, max output tokens, top-p,
/// penalties, stop sequences, JSON / JSON-schema response format). Text only: no tools, no images.
/// Failures surface as <see cref="ModelFailedException"/> (502) and <see cref="ModelTimeoutException"/> (504).
/// </summary>
public sealed class OpenAiChatClient : IChatClient
{
    private readonly OpenAIClient _client;
    private readonly LlmOptions _options;
    private readonly ConcurrentDictionary<string, ChatClient> _byModel = new(StringComparer.Ordinal);
    private readonly ChatClientMetadata _metadata;

    public OpenAiChatClient(LlmOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.BaseUrl is null) throw new ArgumentException("Llm:BaseUrl is required for the openai provider.", nameof(options));
        if (string.IsNullOrWhiteSpace(options.Model)) throw new ArgumentException("Llm:Model is required for the openai provider.", nameof(options));
        _options = options;
        _client = new OpenAIClient(
            // Local servers ignore the key, but the SDK refuses an empty one.
            new ApiKeyCredential(string.IsNullOrEmpty(options.ApiKey) ? "unused" : options.ApiKey),
            new OpenAIClientOptions
            {
                Endpoint = options.BaseUrl,
                RetryPolicy = new ClientRetryPolicy(options.MaxRetries),
                // Our own timeout (below) governs the call; this only keeps the SDK's default from cutting in first.
                NetworkTimeout = TimeSpan.FromSeconds(options.TimeoutSeconds + 5),
            });
        _metadata = new ChatClientMetadata("openai", options.BaseUrl, options.Model);
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AiChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var client = ClientFor(options);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(_options.TimeoutSeconds));
        ChatCompletion completion;
        try
        {
            completion = (await client.CompleteChatAsync(ToOpenAi(messages), ToOpenAi(options), timeout.Token)).Value;
        }
        catch (Exception ex) when (Translate(ex, cancellationToken) is { } translated)
        {
            throw translated;
        }

        var text = string.Concat(completion.Content.Where(p => p.Kind == ChatMessageContentPartKind.Text).Select(p => p.Text));
        var message = new AiChatMessage(ChatRole.Assistant, text) { MessageId = completion.Id };
        return new ChatResponse(message)
        {
            ResponseId = completion.Id,
            ModelId = completion.Model,
            CreatedAt = completion.CreatedAt,
            FinishReason = ToAi(completion.FinishReason),
            Usage = ToAi(completion.Usage),
            RawRepresentation = completion,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AiChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var client = ClientFor(options);
        var request = ToOpenAi(options);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var idle = TimeSpan.FromSeconds(_options.TimeoutSeconds);
        timeout.CancelAfter(idle);

        // yield cannot sit inside a try with a catch, so each step of the enumerator is translated by hand.
        var updates = client.CompleteChatStreamingAsync(ToOpenAi(messages), request, timeout.Token).GetAsyncEnumerator(timeout.Token);
        try
        {
            while (true)
            {
                StreamingChatCompletionUpdate update;
                try
                {
                    if (!await updates.MoveNextAsync()) yield break;
                    update = updates.Current;
                }
                catch (Exception ex) when (Translate(ex, cancellationToken) is { } translated)
                {
                    throw translated;
                }
                // The timeout is per chunk when streaming: a long reply that keeps flowing is fine.
                timeout.CancelAfter(idle);
                yield return ToAi(update);
            }
        }
        finally
        {
            await updates.DisposeAsync();
        }
    }

    /// <summary>
    /// Sends an OpenAI chat-completions request body as it is (fields this service does not model pass through)
    /// with the configured endpoint, key, retries and timeout, and returns the model's successful response.
    /// With <paramref name="stream"/> the body is not buffered: read the SSE lines from its ContentStream,
    /// within the returned idle-timeout scope (dispose it when done). Errors as for <see cref="GetResponseAsync"/>.
    /// </summary>
    public async Task<RawChatResponse> SendRawAsync(BinaryData body, bool stream, CancellationToken cancellationToken)
    {
        var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(_options.TimeoutSeconds));
        try
        {
            using var message = _client.Pipeline.CreateMessage();
            message.Request.Method = "POST";
            message.Request.Uri = new Uri(_options.BaseUrl!.AbsoluteUri.TrimEnd('/') + "/chat/completions");
            message.Request.Headers.Set("Content-Type", "application/json");
            message.Request.Headers.Set("Accept", stream ? "text/event-stream" : "application/json");
            message.Request.Content = BinaryContent.Create(body);
            message.BufferResponse = !stream;
            message.Apply(new RequestOptions { CancellationToken = timeout.Token });
            await _client.Pipeline.SendAsync(message);
            var response = message.ExtractResponse()!;
            if (response.IsError)
            {
                using (response)
                    throw new ModelFailedException($"The model at {_options.BaseUrl} answered HTTP {response.Status}: {Snippet(response)}", response.Status);
            }
            return new RawChatResponse(response, timeout, TimeSpan.FromSeconds(_options.TimeoutSeconds), _options, cancellationToken);
        }
        catch (Exception ex) when (Translate(ex, cancellationToken) is { } translated)
        {
            timeout.Dispose();
            throw translated;
        }
        catch
        {
            timeout.Dispose();
            throw;
        }
    }

    private static string Snippet(PipelineResponse response)
    {
        try
        {
            var text = response.Content.ToString();
            return text.Length > 300 ? text[..300] : text;
        }
        catch (InvalidOperationException)
        {
            return response.ReasonPhrase;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? _metadata
        : serviceType == typeof(OpenAIClient) ? _client
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
    }

    private ChatClient ClientFor(ChatOptions? options) =>
        _byModel.GetOrAdd(string.IsNullOrWhiteSpace(options?.ModelId) ? _options.Model! : options.ModelId, _client.GetChatClient);

    /// <summary>Our timeout becomes 504, SDK and transport errors 502; the caller's own cancellation passes through.</summary>
    internal Exception? Translate(Exception ex, CancellationToken callerToken) => Translate(ex, callerToken, _options);

    internal static Exception? Translate(Exception ex, CancellationToken callerToken, LlmOptions options)
    {
        if (ex is ModelFailedException or ModelTimeoutException) return null;
        if (ex is OperationCanceledException)
            return callerToken.IsCancellationRequested ? null
                : new ModelTimeoutException($"The model at {options.BaseUrl} did not answer within {options.TimeoutSeconds} s (Llm:TimeoutSeconds).");
        return ex switch
        {
            ClientResultException { Status: > 0 } cre => new ModelFailedException(
                $"The model at {options.BaseUrl} answered HTTP {cre.Status}: {FirstLine(cre.Message)}", cre.Status, cre),
            ClientResultException or HttpRequestException or IOException => new ModelFailedException(
                $"The model at {options.BaseUrl} could not be reached: {FirstLine(ex.Message)}", null, ex),
            _ => null,
        };
    }

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();

    internal static IEnumerable<OpenAiChatMessage> ToOpenAi(IEnumerable<AiChatMessage> messages)
    {
        foreach (var m in messages)
        {
            var text = m.Text;
            if (m.Role == ChatRole.System) yield return new SystemChatMessage(text);
            else if (m.Role == ChatRole.Assistant) yield return new AssistantChatMessage(text);
            // "developer" is OpenAI's newer name for system; compatible servers mostly know only "system".
            else if (m.Role.Value == "developer") yield return new SystemChatMessage(text);
            else if (m.Role == ChatRole.User) yield return new UserChatMessage(text);
            else throw new ArgumentException($"Role '{m.Role}' is not supported by this client (text chat only).", nameof(messages));
        }
    }

    internal static ChatCompletionOptions ToOpenAi(ChatOptions? options)
    {
        var result = new ChatCompletionOptions();
        if (options is null) return result;
        result.Temperature = options.Temperature;
        result.MaxOutputTokenCount = options.MaxOutputTokens;
        result.TopP = options.TopP;
        result.FrequencyPenalty = options.FrequencyPenalty;
        result.PresencePenalty = options.PresencePenalty;
        if (options.StopSequences is { } stops)
            foreach (var stop in stops) result.StopSequences.Add(stop);
        result.ResponseFormat = options.ResponseFormat switch
        {
            ChatResponseFormatJson { Schema: { } schema } json => OpenAiResponseFormat.CreateJsonSchemaFormat(
                json.SchemaName ?? "response", BinaryData.FromString(schema.GetRawText()), json.SchemaDescription, jsonSchemaIsStrict: true),
            ChatResponseFormatJson => OpenAiResponseFormat.CreateJsonObjectFormat(),
            ChatResponseFormatText => OpenAiResponseFormat.CreateTextFormat(),
            _ => null,
        };
        if (options.EndUserId() is { } user) result.EndUserId = user;
        return result;
    }

    private static ChatResponseUpdate ToAi(StreamingChatCompletionUpdate update)
    {
        var contents = new List<AIContent>();
        foreach (var part in update.ContentUpdate)
            if (part.Kind == ChatMessageContentPartKind.Text && !string.IsNullOrEmpty(part.Text)) contents.Add(new TextContent(part.Text));
        if (update.Usage is { } usage) contents.Add(new UsageContent(ToAi(usage)!));
        return new ChatResponseUpdate(update.Role is { } role ? ToAi(role) : null, contents)
        {
            ResponseId = update.CompletionId,
            MessageId = update.CompletionId,
            ModelId = update.Model,
            CreatedAt = update.CreatedAt,
            FinishReason = update.FinishReason is { } reason ? ToAi(reason) : null,
            RawRepresentation = update,
        };
    }

    private static ChatRole ToAi(ChatMessageRole role) => role switch
    {
        ChatMessageRole.System => ChatRole.System,
        ChatMessageRole.User => ChatRole.User,
        ChatMessageRole.Tool => ChatRole.Tool,
        _ => ChatRole.Assistant,
    };

    private static AiFinishReason? ToAi(OpenAiFinishReason reason) => reason switch
    {
        OpenAiFinishReason.Stop => AiFinishReason.Stop,
        OpenAiFinishReason.Length => AiFinishReason.Length,
        OpenAiFinishReason.ContentFilter => AiFinishReason.ContentFilter,
        OpenAiFinishReason.ToolCalls or OpenAiFinishReason.FunctionCall => AiFinishReason.ToolCalls,
        _ => null,
    };

    private static UsageDetails? ToAi(ChatTokenUsage? usage) => usage is null ? null : new UsageDetails
    {
        InputTokenCount = usage.InputTokenCount,
        OutputTokenCount = usage.OutputTokenCount,
        TotalTokenCount = usage.TotalTokenCount,
    };
}

/// <summary>
/// A successful raw response from <see cref="OpenAiChatClient.SendRawAsync"/>. For a stream, read lines with
/// <see cref="ReadLinesAsync"/>: each line resets the idle timeout, and timeouts and broken connections
/// become <see cref="ModelTimeoutException"/> and <see cref="ModelFailedException"/>.
/// </summary>
public sealed class RawChatResponse(PipelineResponse response, CancellationTokenSource timeout, TimeSpan idle, LlmOptions options,
    CancellationToken callerToken) : IDisposable
{
    public PipelineResponse Response => response;

    /// <summary>The buffered body of a non-streaming response.</summary>
    public BinaryData Content => response.Content;

    public async IAsyncEnumerable<string> ReadLinesAsync()
    {
        using var reader = new StreamReader(response.ContentStream!);
        while (true)
        {
            string? line;
            try
            {
                line = await reader.ReadLineAsync(timeout.Token);
            }
            catch (Exception ex) when (OpenAiChatClient.Translate(ex, callerToken, options) is { } translated)
            {
                throw translated;
            }
            if (line is null) yield break;
            timeout.CancelAfter(idle);
            yield return line;
        }
    }

    public void Dispose()
    {
        response.Dispose();
        timeout.Dispose();
    }
}

/// <summary>The end-user id passed through to the model (OpenAI's "user" field), carried in AdditionalProperties.</summary>
public static class ChatOptionsExtensions
{
    public const string EndUserIdKey = "end_user_id";

    public static string? EndUserId(this ChatOptions options) =>
        options.AdditionalProperties?.TryGetValue(EndUserIdKey, out var v) == true ? v as string : null;
}
