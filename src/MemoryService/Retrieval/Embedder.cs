using MemoryService.Embeddings;
using MemoryService.Hosting;
using Microsoft.Extensions.AI;

namespace MemoryService.Retrieval;

/// <summary>
/// The configured embedding generator as the store and search use it: the model id recorded with every
/// vector, and any provider failure turned into a 503 so nothing is written or searched with a bad vector.
/// </summary>
public sealed class Embedder(IEmbeddingGenerator<string, Embedding<float>> generator, IEmbeddingModel model)
{
    public string ModelId => model.ModelId;

    public async Task<float[][]> EmbedAsync(IReadOnlyList<string> texts, CancellationToken ct)
    {
        if (texts.Count == 0) return [];
        GeneratedEmbeddings<Embedding<float>> result;
        try
        {
            result = await generator.GenerateAsync(texts, cancellationToken: ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            var reason = ex is EmbeddingUnavailableException ? ex.Message : $"The embedding model '{ModelId}' is unavailable: {ex.Message}";
            throw new DependencyUnavailableException(reason, ex);
        }
        if (result.Count != texts.Count)
            throw new DependencyUnavailableException($"The embedding model '{ModelId}' returned {result.Count} vectors for {texts.Count} texts.");
        return result.Select(e => e.Vector.ToArray()).ToArray();
    }

    public async Task<float[]> EmbedAsync(string text, CancellationToken ct) => (await EmbedAsync([text], ct))[0];
}
