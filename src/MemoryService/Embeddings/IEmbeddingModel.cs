using Microsoft.Extensions.AI;

namespace MemoryService.Embeddings;

/// <summary>
/// Which model embeds memories right now. Stored next to each vector so a change of model is visible
/// and old vectors can be found and re-embedded; never compare vectors from different model ids.
/// </summary>
public interface IEmbeddingModel
{
    /// <summary>Stable id such as "hashing-v1-384" or "openai:text-embedding-3-small".</summary>
    string ModelId { get; }

    /// <summary>Length of every vector the model returns.</summary>
    int Dimensions { get; }
}

internal sealed record EmbeddingModel(string ModelId, int Dimensions) : IEmbeddingModel
{
    public static EmbeddingModel From(IEmbeddingGenerator<string, Embedding<float>> generator, int dimensions)
    {
        var metadata = generator.GetService<EmbeddingGeneratorMetadata>();
        return new EmbeddingModel(metadata?.DefaultModelId ?? "unknown", metadata?.DefaultModelDimensions ?? dimensions);
    }
}
