using System.ClientModel;
using System.ClientModel.Primitives;
using OpenAI;

namespace MemoryService.Llm;

/// <summary>
/// The OpenAI SDK client for Llm:Provider "openai" (any OpenAI-compatible server) and "azure-openai" (an Azure OpenAI
/// resource's v1 endpoint, which takes the key in Azure's own <c>api-key</c> header), and the proxy's pass-through:
/// a chat-completions body sent as it is, fields this service does not model included.
/// </summary>
public sealed class OpenAiPassThrough(LlmOptions options)
{
    /// <summary>The configured SDK client: endpoint, key, the SDK's retries, and a network timeout above ours.</summary>
    public OpenAIClient Client { get; } = CreateClient(options);

    private static OpenAIClient CreateClient(LlmOptions options)
    {
        var clientOptions = new OpenAIClientOptions
        {
            Endpoint = options.BaseUrl,
            RetryPolicy = new ClientRetryPolicy(options.MaxRetries),
            // Our own timeout (ModelCallGuard) governs the call; this only keeps the SDK's default from cutting in first.
            NetworkTimeout = TimeSpan.FromSeconds(options.TimeoutSeconds + 5),
        };
        // Local servers ignore the key, but the SDK refuses an empty one.
        var key = new ApiKeyCredential(string.IsNullOrEmpty(options.ApiKey) ? "unused" : options.ApiKey);
        if (!string.Equals(options.Provider, LlmProviders.AzureOpenAi, StringComparison.OrdinalIgnoreCase)) return new OpenAIClient(key, clientOptions);
        // Azure's own key header; the constructor taking an authentication policy is marked for evaluation in OpenAI 2.15.
#pragma warning disable OPENAI001
        return new OpenAIClient(ApiKeyAuthenticationPolicy.CreateHeaderApiKeyPolicy(key, "api-key"), clientOptions);
#pragma warning restore OPENAI001
    }

    /// <summary>
    /// Sends an OpenAI chat-completions request body as it is with the configured endpoint, key, retries and timeout,
    /// and returns the model's successful response. With <paramref name="stream"/> the body is not buffered: read the
    /// SSE lines with <see cref="RawChatResponse.ReadLinesAsync"/> (dispose the response when done). Errors are
    /// <see cref="ModelFailedException"/> (502) and <see cref="ModelTimeoutException"/> (504).
    /// </summary>
    public async Task<RawChatResponse> SendRawAsync(BinaryData body, bool stream, CancellationToken cancellationToken)
    {
        var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.TimeoutSeconds));
        try
        {
            using var message = Client.Pipeline.CreateMessage();
            message.Request.Method = "POST";
            message.Request.Uri = new Uri(options.BaseUrl!.AbsoluteUri.TrimEnd('/') + "/chat/completions");
            message.Request.Headers.Set("Content-Type", "application/json");
            message.Request.Headers.Set("Accept", stream ? "text/event-stream" : "application/json");
            message.Request.Content = BinaryContent.Create(body);
            message.BufferResponse = !stream;
            message.Apply(new RequestOptions { CancellationToken = timeout.Token });
            await Client.Pipeline.SendAsync(message);
            var response = message.ExtractResponse()!;
            if (response.IsError)
            {
                using (response)
                    throw new ModelFailedException($"The model at {options.BaseUrl} answered HTTP {response.Status}: {Snippet(response)}", response.Status);
            }
            return new RawChatResponse(response, timeout, options, cancellationToken);
        }
        catch (Exception ex) when (ModelCallGuard.Translate(ex, cancellationToken, options) is { } translated)
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
}

/// <summary>
/// A successful raw response from <see cref="OpenAiPassThrough.SendRawAsync"/>. For a stream, read lines with
/// <see cref="ReadLinesAsync"/>: each line resets the idle timeout, and timeouts and broken connections
/// become <see cref="ModelTimeoutException"/> and <see cref="ModelFailedException"/>.
/// </summary>
public sealed class RawChatResponse(PipelineResponse response, CancellationTokenSource timeout, LlmOptions options,
    CancellationToken callerToken) : IDisposable
{
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
            catch (Exception ex) when (ModelCallGuard.Translate(ex, callerToken, options) is { } translated)
            {
                throw translated;
            }
            if (line is null) yield break;
            timeout.CancelAfter(TimeSpan.FromSeconds(options.TimeoutSeconds));
            yield return line;
        }
    }

    public void Dispose()
    {
        response.Dispose();
        timeout.Dispose();
    }
}
