using System.ClientModel;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace MemoryService.Llm;

/// <summary>
/// Wraps every provider's <see cref="IChatClient"/> with what this service promises its callers whatever the model
/// server: a time limit (Llm:TimeoutSeconds) for the whole reply, or when streaming for the first chunk and between
/// chunks, and one shape of failure: <see cref="ModelTimeoutException"/> (504) and <see cref="ModelFailedException"/> (502).
/// The caller's own cancellation passes through untouched.
/// </summary>
public sealed class ModelCallGuard(IChatClient inner, LlmOptions options) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? chatOptions = null,
        CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.TimeoutSeconds));
        try
        {
            return await base.GetResponseAsync(messages, chatOptions, timeout.Token);
        }
        catch (Exception ex) when (Translate(ex, cancellationToken, options) is { } translated)
        {
            throw translated;
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? chatOptions = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var idle = TimeSpan.FromSeconds(options.TimeoutSeconds);
        timeout.CancelAfter(idle);

        // yield cannot sit inside a try with a catch, so each step of the enumerator is translated by hand.
        var updates = base.GetStreamingResponseAsync(messages, chatOptions, timeout.Token).GetAsyncEnumerator(timeout.Token);
        try
        {
            while (true)
            {
                ChatResponseUpdate update;
                try
                {
                    if (!await updates.MoveNextAsync()) yield break;
                    update = updates.Current;
                }
                catch (Exception ex) when (Translate(ex, cancellationToken, options) is { } translated)
                {
                    throw translated;
                }
                // The timeout is per chunk when streaming: a long reply that keeps flowing is fine.
                timeout.CancelAfter(idle);
                yield return update;
            }
        }
        finally
        {
            await updates.DisposeAsync();
        }
    }

    /// <summary>Our timeout becomes 504, SDK and transport errors 502; the caller's own cancellation passes through.</summary>
    internal static Exception? Translate(Exception ex, CancellationToken callerToken, LlmOptions options)
    {
        if (ex is ModelFailedException or ModelTimeoutException) return null;
        if (ex is OperationCanceledException)
            return callerToken.IsCancellationRequested ? null
                : new ModelTimeoutException($"The model at {options.BaseUrl} did not answer within {options.TimeoutSeconds} s (Llm:TimeoutSeconds).");
        int? status = ex switch
        {
            ClientResultException { Status: > 0 } cre => cre.Status,
            Anthropic.Exceptions.AnthropicApiException ae => (int)ae.StatusCode,
            HttpRequestException { StatusCode: { } code } => (int)code,
            _ => null,
        };
        if (status is { } answered)
            return new ModelFailedException($"The model at {options.BaseUrl} answered HTTP {answered}: {FirstLine(ex.Message)}", answered, ex);
        return ex switch
        {
            ClientResultException or HttpRequestException or IOException => new ModelFailedException(
                $"The model at {options.BaseUrl} could not be reached: {FirstLine(ex.Message)}", null, ex),
            // The SDKs' own errors (an error body, a broken event stream) that carry no HTTP status.
            Anthropic.Exceptions.AnthropicException or OllamaSharp.Models.Exceptions.OllamaException => new ModelFailedException(
                $"The model at {options.BaseUrl} failed: {FirstLine(ex.Message)}", null, ex),
            _ => null,
        };
    }

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();
}
