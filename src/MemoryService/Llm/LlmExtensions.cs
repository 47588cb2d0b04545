using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace MemoryService.Llm;

public static class LlmExtensions
{
    /// <summary>
    /// Binds <see cref="LlmOptions"/> and, when <c>Llm:Provider</c> is "openai", registers the one
    /// <see cref="IChatClient"/>. With "none" (the default) nothing is registered: callers resolve
    /// <c>GetService&lt;IChatClient&gt;()</c> and answer 503 with <see cref="LlmProviders.NotConfigured"/>.
    /// </summary>
    public static IHostApplicationBuilder AddLlm(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<LlmOptions>()
            .BindConfiguration(LlmOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        // Chosen once, from configuration, so the rest of the service never branches on the provider.
        var provider = builder.Configuration[$"{LlmOptions.SectionName}:{nameof(LlmOptions.Provider)}"] ?? LlmProviders.None;
        if (string.Equals(provider, LlmProviders.OpenAi, StringComparison.OrdinalIgnoreCase))
        {
            // Every caller (chat, learning's extraction and decisions) goes through the cap, so none can forget it.
            builder.Services.AddSingleton<IChatClient>(sp =>
            {
                var options = sp.GetRequiredService<IOptions<LlmOptions>>().Value;
                return new OutputTokenCap(new OpenAiChatClient(options), options.MaxOutputTokens);
            });
        }
        return builder;
    }
}

/// <summary>
/// Clamps <see cref="ChatOptions.MaxOutputTokens"/> of every call to Llm:MaxOutputTokens, and sets it where the caller
/// left it out: without a limit a model may write until its context is full, on the operator's account.
/// </summary>
public sealed class OutputTokenCap(IChatClient inner, int maxOutputTokens) : DelegatingChatClient(inner)
{
    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default) =>
        base.GetResponseAsync(messages, Capped(options), cancellationToken);

    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        base.GetStreamingResponseAsync(messages, Capped(options), cancellationToken);

    private ChatOptions Capped(ChatOptions? options)
    {
        // A copy: callers may reuse their options object, and it is not ours to change.
        var capped = options?.Clone() ?? new ChatOptions();
        capped.MaxOutputTokens = Math.Min(capped.MaxOutputTokens ?? maxOutputTokens, maxOutputTokens);
        return capped;
    }
}
