using System.Collections.Concurrent;
using Anthropic;
using Anthropic.Core;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OllamaSharp;

namespace MemoryService.Llm;

public static class LlmExtensions
{
    /// <summary>
    /// Binds <see cref="LlmOptions"/> and, unless <c>Llm:Provider</c> is "none" (the default), registers the one
    /// <see cref="IChatClient"/> for it. With "none" nothing is registered: callers resolve
    /// <c>GetService&lt;IChatClient&gt;()</c> and answer 503 with <see cref="LlmProviders.NotConfigured"/>.
    /// </summary>
    public static IHostApplicationBuilder AddLlm(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<LlmOptions>()
            .BindConfiguration(LlmOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        // Chosen once, from configuration, so the rest of the service never branches on the provider.
        var provider = (builder.Configuration[$"{LlmOptions.SectionName}:{nameof(LlmOptions.Provider)}"] ?? LlmProviders.None).ToLowerInvariant();
        if (provider == LlmProviders.None) return builder;
        if (provider is LlmProviders.OpenAi or LlmProviders.AzureOpenAi)
            builder.Services.AddSingleton(sp => new OpenAiPassThrough(sp.GetRequiredService<IOptions<LlmOptions>>().Value));
        // Every caller (chat, the proxy, learning's extraction and decisions) goes through the guard and the cap, so none can forget them.
        builder.Services.AddSingleton<IChatClient>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<LlmOptions>>().Value;
            return new OutputTokenCap(new ModelCallGuard(CreateClient(provider, options, sp), options), options.MaxOutputTokens);
        });
        return builder;
    }

    /// <summary>The provider's own <see cref="IChatClient"/>, from its package.</summary>
    private static IChatClient CreateClient(string provider, LlmOptions options, IServiceProvider services) => provider switch
    {
        LlmProviders.OpenAi or LlmProviders.AzureOpenAi => new PerModelChatClient(options.Model!,
            model => services.GetRequiredService<OpenAiPassThrough>().Client.GetChatClient(model).AsIChatClient()),
        // The guard's timeout governs the call; HttpClient's own 100 s default would cut long replies short.
        LlmProviders.Ollama => new OllamaApiClient(new HttpClient(new HttpRetryHandler(options.MaxRetries, TimeSpan.FromMilliseconds(200)))
            { BaseAddress = options.BaseUrl, Timeout = Timeout.InfiniteTimeSpan }, options.Model!),
        LlmProviders.Anthropic => new AnthropicClient(new ClientOptions
        {
            BaseUrl = options.BaseUrl!.AbsoluteUri.TrimEnd('/'),
            // Local fakes and gateways may take any key; the SDK would otherwise read ANTHROPIC_API_KEY from the environment.
            ApiKey = string.IsNullOrEmpty(options.ApiKey) ? "unused" : options.ApiKey,
            MaxRetries = options.MaxRetries,
            Timeout = TimeSpan.FromSeconds(options.TimeoutSeconds + 5),
        }).AsIChatClient(options.Model!, options.MaxOutputTokens),
        _ => throw new InvalidOperationException($"Unknown LLM provider '{provider}'."),
    };
}

/// <summary>
/// One SDK chat client per model name: the OpenAI SDK binds a client to its model, while a request may name any of
/// Llm:AllowedModels (ChatOptions.ModelId).
/// </summary>
internal sealed class PerModelChatClient(string defaultModel, Func<string, IChatClient> create) : IChatClient
{
    private readonly ConcurrentDictionary<string, IChatClient> _byModel = new(StringComparer.Ordinal);

    private IChatClient For(ChatOptions? options) =>
        _byModel.GetOrAdd(string.IsNullOrWhiteSpace(options?.ModelId) ? defaultModel : options.ModelId, create);

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        For(options).GetResponseAsync(messages, options, cancellationToken);

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default) =>
        For(options).GetStreamingResponseAsync(messages, options, cancellationToken);

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceType.IsInstanceOfType(this) && serviceKey is null ? this : For(null).GetService(serviceType, serviceKey);

    public void Dispose()
    {
        foreach (var client in _byModel.Values) client.Dispose();
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
