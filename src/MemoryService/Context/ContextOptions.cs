using System.ComponentModel.DataAnnotations;

namespace MemoryService.Context;

/// <summary>Context building settings (section "Context").</summary>
public sealed class ContextOptions
{
    public const string O200kBase = "o200k_base";
    public const string Cl100kBase = "cl100k_base";
    public const string Approximate = "approximate";

    /// <summary>
    /// Days a dated event (a plan such as "flying to Rome next Friday") stays in "Recent events" after its own date.
    /// Past that it is history: still searchable, but no longer pushed into every prompt.
    /// </summary>
    [Range(0, 3650)]
    public int PastEventWindowDays { get; set; } = 7;

    /// <summary>
    /// The encoding a token budget is counted in, exactly: "o200k_base" (GPT-4o and later OpenAI models),
    /// "cl100k_base" (GPT-4, GPT-3.5), or "approximate" (a cl100k_base estimate within ±10%, the fastest).
    /// </summary>
    [Required, AllowedValues(O200kBase, Cl100kBase, Approximate)]
    public string Tokenizer { get; set; } = O200kBase;

    /// <summary>
    /// Exact token counts of recent context lines kept per process (about 300 bytes each), so a user's repeated lines
    /// are counted once; 0 counts every line every time. Ignored by "approximate", which is cheaper than a lookup.
    /// </summary>
    [Range(0, 1_000_000)]
    public int TokenCountCacheEntries { get; set; } = TiktokenTokenCounter.DefaultCacheEntries;

    /// <summary>The counter for <see cref="Tokenizer"/>.</summary>
    public ITokenCounter CreateTokenCounter() => Tokenizer == Approximate
        ? ApproximateTokenCounter.Instance
        : new TiktokenTokenCounter(Tokenizer, TokenCountCacheEntries);
}
