using MemoryService.Client;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;

namespace MemoryService.SemanticKernel;

/// <summary>Wiring for Microsoft.Extensions.AI pipelines and Semantic Kernel.</summary>
public static class MemoryExtensions
{
    /// <summary>Adds <see cref="MemoryChatClient"/> to a chat client pipeline.</summary>
    public static ChatClientBuilder UseMemoryService(this ChatClientBuilder builder, MemoryServiceClient memory, MemoryChatOptions options) =>
        builder.Use((inner, services) => new MemoryChatClient(inner, memory, options,
            services.GetService<ILoggerFactory>()?.CreateLogger<MemoryChatClient>()));

    /// <summary>
    /// The Semantic Kernel side of <see cref="MemoryChatClient"/>: a chat completion service that adds the user's
    /// context to every call and learns from every reply, around any other one (OpenAI, Azure, Ollama...).
    /// </summary>
    public static IChatCompletionService WithMemoryService(this IChatCompletionService inner, MemoryServiceClient memory, MemoryChatOptions options,
        ILogger? logger = null) =>
        new MemoryChatClient(inner.AsChatClient(), memory, options, logger).AsChatCompletionService();

    /// <summary>
    /// Wraps the kernel's registered <see cref="IChatCompletionService"/> with memory (call after adding one, e.g.
    /// AddOpenAIChatCompletion), so <c>kernel.InvokePromptAsync</c> and chat history calls get the user's context.
    /// </summary>
    public static IKernelBuilder AddMemoryServiceChat(this IKernelBuilder builder, MemoryServiceClient memory, MemoryChatOptions options)
    {
        var registered = builder.Services.LastOrDefault(d => d.ServiceType == typeof(IChatCompletionService) && d.ServiceKey is null)
            ?? throw new InvalidOperationException("Register a chat completion service (e.g. AddOpenAIChatCompletion) before AddMemoryServiceChat.");
        builder.Services.Remove(registered);
        builder.Services.AddSingleton<IChatCompletionService>(sp =>
        {
            var inner = registered.ImplementationInstance as IChatCompletionService
                ?? (IChatCompletionService?)registered.ImplementationFactory?.Invoke(sp)
                ?? (IChatCompletionService)ActivatorUtilities.CreateInstance(sp, registered.ImplementationType!);
            return inner.WithMemoryService(memory, options, sp.GetService<ILoggerFactory>()?.CreateLogger<MemoryChatClient>());
        });
        return builder;
    }

    /// <summary>Adds <see cref="MemoryPlugin"/> (remember, recall, forget) for one user under <paramref name="pluginName"/>.</summary>
    public static IKernelBuilderPlugins AddMemoryServicePlugin(this IKernelBuilderPlugins plugins, MemoryServiceClient memory, string userId,
        string pluginName = MemoryPlugin.DefaultName) =>
        plugins.AddFromObject(new MemoryPlugin(memory, userId), pluginName);
}
