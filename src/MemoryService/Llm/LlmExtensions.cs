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
            builder.Services.AddSingleton<IChatClient>(sp => new OpenAiChatClient(sp.GetRequiredService<IOptions<LlmOptions>>().Value));
        return builder;
    }
}
