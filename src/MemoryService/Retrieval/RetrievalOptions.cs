using System.ComponentModel.DataAnnotations;

namespace MemoryService.Retrieval;

/// <summary>Section "Retrieval": ranking weights and parameters; weights can be overridden per request.</summary>
public sealed class RetrievalOptions
{
    public RankingWeights Weights { get; set; } = new();

    /// <summary>Recency halves every this many days since observed_at.</summary>
    [Range(0.001, 100_000)] public double RecencyHalfLifeDays { get; set; } = 30;

    /// <summary>ACT-R decay d in B = ln Σ (t − t_j)^−d.</summary>
    [Range(0.01, 0.99)] public double ActivationDecay { get; set; } = 0.5;

    /// <summary>How many candidates each signal (vector, keyword) contributes before fusion.</summary>
    [Range(10, 1000)] public int CandidatesPerSignal { get; set; } = 100;

    /// <summary>
    /// BM25 saturation and length normalisation. Memories are short statements, so length says little
    /// about relevance: a low b (tuned on the LoCoMo dev split: b 0.75 → 0.3 gained 1.6 points recall@10).
    /// </summary>
    [Range(0.0, 10)] public double Bm25K1 { get; set; } = 0.8;
    [Range(0.0, 1)] public double Bm25B { get; set; } = 0.3;

    /// <summary>Pseudo-relevance feedback: expand the keyword query with words of this many top matches (0 = off).</summary>
    [Range(0, 20)] public int FeedbackDocuments { get; set; } = 3;

    /// <summary>How many expansion words, and their weight relative to the query's own words.</summary>
    [Range(1, 50)] public int FeedbackTerms { get; set; } = 10;
    [Range(0.0, 1)] public double FeedbackWeight { get; set; } = 0.3;

    /// <summary>Memories observed within this many minutes of each other form one episode (context signal).</summary>
    [Range(0, 10_080)] public double EpisodeWindowMinutes { get; set; } = 30;

    /// <summary>Neighbours in recording order within this many positions cue each other most (context signal).</summary>
    [Range(0, 20)] public int NeighbourRadius { get; set; } = 2;

    /// <summary>Share of the context signal that comes from neighbours rather than the whole episode.</summary>
    [Range(0.0, 1)] public double NeighbourShare { get; set; } = 0.75;

    /// <summary>
    /// Memory for owners' in-memory search indexes (MemoryIndex), in MiB; 0 = read every search's rows from the
    /// database. A 1,000-memory user with 384-d vectors takes about 1.5 MiB, so the default holds about 100 such users.
    /// </summary>
    [Range(0, 1_048_576)] public int IndexCacheMegabytes { get; set; } = 160;

    /// <summary>
    /// A cached index is reloaded after this many seconds even when no write moved its version, to pick up access
    /// statistics written by other replicas.
    /// </summary>
    [Range(1, 86_400)] public int IndexMaxAgeSeconds { get; set; } = 60;

    /// <summary>
    /// When the cache is full, an owner is admitted (evicting the least used) once asked for this many times within a
    /// minute; until then its rows are read for each request, with PostgreSQL computing the cosines.
    /// </summary>
    [Range(1, 1000)] public int IndexAdmitAfterRequests { get; set; } = 3;

    /// <summary>
    /// How much a memory's confidence discounts its score: score × (1 − discount × (1 − confidence)). At full
    /// confidence (every stated memory) nothing changes; a memory marked not helpful ranks below an equal match.
    /// </summary>
    [Range(0.0, 1)] public double ConfidenceDiscount { get; set; } = 0.5;

    /// <summary>How often batched access statistics are written.</summary>
    [Range(50, 60_000)] public int AccessFlushMilliseconds { get; set; } = 1000;
}

/// <summary>Relative weights of the ranking signals (any non-negative numbers; they are normalised to sum 1).</summary>
/// <remarks>Defaults tuned on the LoCoMo dev split (bench "quality"); recency, importance and activation are kept
/// small so they order near-ties rather than outrank relevance.</remarks>
public sealed record RankingWeights
{
    public double Similarity { get; init; } = 0.3;
    public double Keyword { get; init; } = 0.7;
    public double Recency { get; init; } = 0.04;
    public double Importance { get; init; } = 0.04;
    public double Activation { get; init; } = 0.02;
    public double Context { get; init; } = 0.4;
    /// <summary>Spreading activation from the query's entities over the entity graph (Graph section).</summary>
    public double Graph { get; init; } = 0.3;
}
