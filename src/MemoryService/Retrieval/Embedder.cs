using MemoryService.Embeddings;
using MemoryService.Hosting;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace MemoryService.Retrieval;

/// <summary>
/// The configured embedding generator as the store and search use it: the model id recorded with every
/// vector, queries told apart from memories (asymmetric models embed them differently), recent query vectors
/// kept, and any provider failure turned into a 503 so nothing is written or searched with a bad vector.
/// </summary>
public sealed class Embedder(IEmbeddingGenerator<string, Embedding<float>> generator, IEmbeddingModel model, IOptions<EmbeddingsOptions> options)
{
    private readonly LruCache<string, float[]> _queries = new(options.Value.QueryCacheSize);

    /// <summary>Everything that decides the vector space; vectors of different ids are never compared.</summary>
    public string ModelId => model.ModelId;

    public int Dimensions => model.Dimensions;

    /// <summary>Embeds memories (documents) to store.</summary>
    public Task<float[][]> EmbedDocumentsAsync(IReadOnlyList<string> texts, CancellationToken ct) =>
        EmbedAsync(texts, EmbeddingInput.ForDocument, ct);

    /// <summary>Embeds one memory to store.</summary>
    public async Task<float[]> EmbedDocumentAsync(string text, CancellationToken ct) => (await EmbedDocumentsAsync([text], ct))[0];

    /// <summary>Embeds a search query; a query asked again recently comes from the cache.</summary>
    public async Task<float[]> EmbedQueryAsync(string text, CancellationToken ct)
    {
        if (_queries.TryGet(text, out var cached)) return cached;
        var vector = (await EmbedAsync([text], EmbeddingInput.ForQuery, ct))[0];
        _queries.Add(text, vector);
        return vector;
    }

    private async Task<float[][]> EmbedAsync(IReadOnlyList<string> texts, EmbeddingGenerationOptions kind, CancellationToken ct)
    {
        if (texts.Count == 0) return [];
        GeneratedEmbeddings<Embedding<float>> result;
        try
        {
            result = await generator.GenerateAsync(texts, kind, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            var reason = ex is EmbeddingUnavailableException ? ex.Message : $"The embedding model '{ModelId}' is unavailable: {ex.Message}";
            throw new DependencyUnavailableException(reason, ex);
        }
        if (result.Count != texts.Count)
            throw new DependencyUnavailableException($"The embedding model '{ModelId}' returned {result.Count} vectors for {texts.Count} texts.");
        var vectors = result.Select(e => e.Vector.ToArray()).ToArray();
        if (vectors.Any(v => v.Length != Dimensions))
            throw new DependencyUnavailableException($"The embedding model '{ModelId}' returned a vector of another length than its {Dimensions} dimensions.");
        return vectors;
    }
}

/// <summary>A small thread-safe least-recently-used map; capacity 0 keeps nothing.</summary>
internal sealed class LruCache<TKey, TValue>(int capacity) where TKey : notnull
{
    private readonly Dictionary<TKey, LinkedListNode<(TKey Key, TValue Value)>> _map = [];
    private readonly LinkedList<(TKey Key, TValue Value)> _order = new();
    private readonly Lock _lock = new();

    public bool TryGet(TKey key, out TValue value)
    {
        lock (_lock)
        {
            if (_map.TryGetValue(key, out var node))
            {
                _order.Remove(node);
                _order.AddFirst(node);
                value = node.Value.Value;
                return true;
            }
        }
        value = default!;
        return false;
    }

    public void Add(TKey key, TValue value)
    {
        if (capacity <= 0) return;
        lock (_lock)
        {
            if (_map.Remove(key, out var old)) _order.Remove(old);
            _map[key] = _order.AddFirst((key, value));
            while (_map.Count > capacity)
            {
                _map.Remove(_order.Last!.Value.Key);
                _order.RemoveLast();
            }
        }
    }
}
