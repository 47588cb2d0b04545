using MemoryService.Learning;
using MemoryService.Retrieval;

namespace MemoryService.Embeddings;

/// <summary>
/// Defaults that depend on the embedding model, because cosine scales differ widely (Arctic-xs puts unrelated
/// sentences at 0.6-0.8, MiniLM near 0): the learning thresholds and the fusion of vector and keyword ranking.
/// They fill <see cref="LearningOptions"/> and <see cref="RetrievalOptions"/> before configuration is bound, so any
/// key set in configuration still wins. Thresholds calibrated with bench "meaning" (bench/data/meaning-pairs.tsv),
/// fusion tuned with bench "quality --tune" on part of the LoCoMo dev split (docs/embeddings.md has the figures).
/// </summary>
public sealed record EmbeddingProfile(double RepeatSimilarity, double RelatedSimilarity, RankingWeights Weights, int CandidatesPerSignal)
{
    /// <summary>hashing, and openai models (whose scale is unknown): the code's defaults.</summary>
    public static readonly EmbeddingProfile Lexical = new(0.92, 0.5, new RankingWeights(), 100);

    public static readonly EmbeddingProfile MiniLm = new(0.75, 0.32,
        new RankingWeights { Similarity = 0.5, Keyword = 0.7, Context = 0.4 }, 100);

    /// <summary>Tuned on conversations 26, 30, 41: hybrid recall@10 0.734 → 0.755 overall, 0.712 → 0.728 on the held-out 42, 43.</summary>
    public static readonly EmbeddingProfile ArcticXs = new(0.91, 0.81,
        new RankingWeights { Similarity = 0.8, Keyword = 0.4, Context = 0.4 }, 100);

    public static EmbeddingProfile For(EmbeddingsOptions options) =>
        !string.Equals(options.Provider, EmbeddingProviders.Local, StringComparison.OrdinalIgnoreCase) ? Lexical
        : (LocalModelSpec.Find(options.Model) ?? LocalModelSpec.Default) == LocalModelSpec.MiniLm ? MiniLm
        : ArcticXs;

    public void ApplyTo(LearningOptions learning)
    {
        learning.RepeatSimilarity = RepeatSimilarity;
        learning.RelatedSimilarity = RelatedSimilarity;
    }

    public void ApplyTo(RetrievalOptions retrieval)
    {
        retrieval.Weights = Weights;
        retrieval.CandidatesPerSignal = CandidatesPerSignal;
    }
}
