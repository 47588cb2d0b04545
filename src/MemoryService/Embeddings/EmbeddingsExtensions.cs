using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace MemoryService.Embeddings;

public static class EmbeddingsExtensions
{
    /// <summary>
    /// Binds <see cref="EmbeddingsOptions"/> and registers the one embedding generator chosen by
    /// <c>Embeddings:Provider</c>, plus <see cref="IEmbeddingModel"/> describing it.
    /// </summary>
    public static IHostApplicationBuilder AddEmbeddings(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<EmbeddingsOptions>()
            .BindConfiguration(EmbeddingsOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        // Chosen once here, so the rest of the service never branches on the provider.
        builder.Services.AddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(sp =>
            CreateGenerator(sp.GetRequiredService<IOptions<EmbeddingsOptions>>().Value, sp.GetRequiredService<ILoggerFactory>()));
        builder.Services.AddSingleton<IEmbeddingModel>(sp => EmbeddingModel.From(
            sp.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>(),
            sp.GetRequiredService<IOptions<EmbeddingsOptions>>().Value.Dimensions));
        return builder;
    }

    internal static IEmbeddingGenerator<string, Embedding<float>> CreateGenerator(EmbeddingsOptions options, ILoggerFactory loggerFactory) =>
        options.Provider.ToLowerInvariant() switch
        {
            EmbeddingProviders.Hashing => new HashingEmbeddingGenerator(options.Dimensions),
            // The model loads here, when the generator is first resolved: at start-up, since the background embedding
            // worker needs it. A missing or broken model then stops the service at once rather than at the first search.
            EmbeddingProviders.Local => new LocalEmbeddingGenerator(LocalModelSpec.Find(options.Model) ?? LocalModelSpec.Default,
                options.EffectiveThreads, options.BatchWindowMs, options.MaxBatch),
            EmbeddingProviders.OpenAi => new OpenAiEmbeddingGenerator(options, loggerFactory.CreateLogger<OpenAiEmbeddingGenerator>()),
            _ => throw new InvalidOperationException(
                $"Unknown embeddings provider '{options.Provider}'. Set Embeddings:Provider to one of: {string.Join(", ", EmbeddingProviders.All)}."),
        };
}
