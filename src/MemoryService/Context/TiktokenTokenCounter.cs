using Microsoft.ML.Tokenizers;

namespace MemoryService.Context;

/// <summary>Exact OpenAI token counts for one tiktoken encoding (o200k_base or cl100k_base). Thread-safe.</summary>
public sealed class TiktokenTokenCounter(string encoding) : ITokenCounter
{
    private readonly TiktokenTokenizer _tokenizer = TiktokenTokenizer.CreateForEncoding(encoding);

    /// <summary>The encoding counted, e.g. "o200k_base".</summary>
    public string Encoding { get; } = encoding;

    /// <inheritdoc />
    public int CountTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _tokenizer.CountTokens(text);
    }
}
