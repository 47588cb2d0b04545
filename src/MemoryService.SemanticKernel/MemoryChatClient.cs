using MemoryService.Client;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MemoryService.SemanticKernel;

/// <summary>Settings of <see cref="MemoryChatClient"/>.</summary>
public sealed class MemoryChatOptions
{
    /// <summary>Whose memories are used and learned. A request can name another one in
    /// <see cref="ChatOptions.AdditionalProperties"/> under <see cref="MemoryChatClient.UserIdProperty"/>.</summary>
    public required string UserId { get; set; }

    /// <summary>Most tokens of the memory system message (the service enforces it). Default 800.</summary>
    public int TokenBudget { get; set; } = 800;

    /// <summary>How many of the latest user/assistant turns go to the service to find what is relevant. Default 6.</summary>
    public int ContextTurns { get; set; } = 6;

    /// <summary>Submit each exchange (latest user turn and the reply) for learning. Default true.</summary>
    public bool Learn { get; set; } = true;
}

/// <summary>
/// Memory for any <see cref="IChatClient"/>: before each call it asks MemoryService for the user's context for the
/// latest user turn and adds it as a system message (within the token budget); after the reply it submits the
/// exchange for learning, so what the user states is known in the next turn. A failing memory service never fails
/// the chat: the call goes on without memory and the failure is logged.
/// </summary>
public sealed class MemoryChatClient(IChatClient innerClient, MemoryServiceClient memory, MemoryChatOptions options, ILogger? logger = null)
    : DelegatingChatClient(innerClient)
{
    /// <summary>Key in <see cref="ChatOptions.AdditionalProperties"/> for a per-request user id.</summary>
    public const string UserIdProperty = "memory_user_id";

    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages as IList<ChatMessage> ?? messages.ToList();
        var userId = UserIdFor(options);
        // 1. the user's context for the latest turn, as a system message
        var withMemory = await AddContextAsync(list, userId, cancellationToken).ConfigureAwait(false);
        // 2. the model's reply
        var response = await base.GetResponseAsync(withMemory, options, cancellationToken).ConfigureAwait(false);
        // 3. learn from the exchange
        await LearnAsync(list, response.Text, userId, cancellationToken).ConfigureAwait(false);
        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var list = messages as IList<ChatMessage> ?? messages.ToList();
        var userId = UserIdFor(options);
        var withMemory = await AddContextAsync(list, userId, cancellationToken).ConfigureAwait(false);
        var reply = new System.Text.StringBuilder();
        await foreach (var update in base.GetStreamingResponseAsync(withMemory, options, cancellationToken).ConfigureAwait(false))
        {
            reply.Append(update.Text);
            yield return update;
        }
        await LearnAsync(list, reply.ToString(), userId, cancellationToken).ConfigureAwait(false);
    }

    private string UserIdFor(ChatOptions? chatOptions) =>
        chatOptions?.AdditionalProperties?.TryGetValue(UserIdProperty, out var v) == true && v is string { Length: > 0 } id ? id : options.UserId;

    private async Task<IList<ChatMessage>> AddContextAsync(IList<ChatMessage> messages, string userId, CancellationToken cancellationToken)
    {
        var turns = messages
            .Where(m => (m.Role == ChatRole.User || m.Role == ChatRole.Assistant) && !string.IsNullOrWhiteSpace(m.Text))
            .TakeLast(Math.Max(1, options.ContextTurns))
            .Select(m => new ContextMessage { Role = m.Role == ChatRole.User ? "user" : "assistant", Content = m.Text })
            .ToList();
        if (!turns.Any(t => t.Role == "user")) return messages;

        string prompt;
        try
        {
            var context = await memory.BuildContextAsync(userId, new ContextRequest { Messages = turns, TokenBudget = options.TokenBudget },
                cancellationToken).ConfigureAwait(false);
            prompt = context.SystemPrompt;
        }
        catch (Exception e) when (e is MemoryServiceApiException or HttpRequestException)
        {
            _logger.LogWarning(e, "MemoryService context for user {UserId} failed; answering without memory", userId);
            return messages;
        }
        if (string.IsNullOrWhiteSpace(prompt)) return messages;

        // After the app's own system messages, before the conversation.
        var result = new List<ChatMessage>(messages.Count + 1);
        var leadingSystem = messages.TakeWhile(m => m.Role == ChatRole.System).Count();
        result.AddRange(messages.Take(leadingSystem));
        result.Add(new ChatMessage(ChatRole.System, prompt));
        result.AddRange(messages.Skip(leadingSystem));
        return result;
    }

    private async Task LearnAsync(IList<ChatMessage> messages, string reply, string userId, CancellationToken cancellationToken)
    {
        if (!options.Learn) return;
        var lastUser = messages.LastOrDefault(m => m.Role == ChatRole.User && !string.IsNullOrWhiteSpace(m.Text));
        if (lastUser is null) return;
        var exchange = new List<MessageRequest> { new() { Role = "user", Content = lastUser.Text } };
        if (!string.IsNullOrWhiteSpace(reply)) exchange.Add(new() { Role = "assistant", Content = reply });
        try
        {
            await memory.ExtractMemoriesAsync(userId, new ExtractRequest { Messages = exchange }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is MemoryServiceApiException or HttpRequestException)
        {
            _logger.LogWarning(e, "MemoryService learning for user {UserId} failed; the exchange was not learned", userId);
        }
    }
}
