using MemoryService.Retrieval;
using Microsoft.ML.Tokenizers;

namespace MemoryService.Context;

/// <summary>
/// Exact OpenAI token counts for one tiktoken encoding (o200k_base or cl100k_base). Thread-safe. Counts of short texts
/// (a context's lines and headers, which repeat from one request to the next for the same user) are remembered in a
/// small LRU: counting a line exactly costs about ten times a lookup.
/// </summary>
public sealed class TiktokenTokenCounter(string encoding, int cacheEntries = TiktokenTokenCounter.DefaultCacheEntries) : ITokenCounter
{
    public const int DefaultCacheEntries = 10_000;

    /// <summary>Longer texts (a whole prompt) are counted every time: they rarely repeat and would crowd the cache.</summary>
    public const int MaxCachedLength = 1_000;

    private readonly TiktokenTokenizer _tokenizer = TiktokenTokenizer.CreateForEncoding(encoding);
    private readonly LruCache<string, int> _counts = new(cacheEntries >= 0 ? cacheEntries : throw new ArgumentOutOfRangeException(nameof(cacheEntries)));

    /// <summary>The encoding counted, e.g. "o200k_base".</summary>
    public string Encoding { get; } = encoding;

    /// <inheritdoc />
    public int CountTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > MaxCachedLength) return _tokenizer.CountTokens(text);
        if (_counts.TryGet(text, out var count)) return count;
        count = _tokenizer.CountTokens(text);
        _counts.Add(text, count);
        return count;
    }
}
