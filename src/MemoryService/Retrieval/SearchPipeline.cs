using System.Text.Json;
using System.Text.Json.Nodes;
using MemoryService.Graph;
using MemoryService.Memories;
using Microsoft.Extensions.Options;

namespace MemoryService.Retrieval;

/// <summary>
/// What to search for and how to rank it. <see cref="QueryVector"/> skips embedding <see cref="Query"/> when the
/// caller already has its vector; <see cref="RecordAccess"/> false for internal look-ups (learning) that are not
/// retrievals by the user.
/// </summary>
public sealed record SearchQuery(
    string Query,
    int Limit = 10,
    IReadOnlyList<MemoryKind>? Kinds = null,
    IReadOnlyList<string>? Tags = null,
    string? Key = null,
    JsonObject? MetadataEquals = null,
    IReadOnlyDictionary<string, JsonArray>? MetadataIn = null,
    bool IncludeKnowledge = true,
    double MinScore = 0,
    RankingWeights? Weights = null,
    double? RecencyHalfLifeDays = null,
    float[]? QueryVector = null,
    bool RecordAccess = true);

/// <summary>Each signal in [0, 1] and the weighted score; <see cref="GraphPath"/> names the entities through which the
/// graph signal reached the memory.</summary>
public sealed record ScoreParts(double Similarity, double Keyword, double Recency, double Importance, double Activation, double Context,
    double Graph = 0, IReadOnlyList<string>? GraphPath = null);

public sealed record ScoredMemory(Memory Memory, double Score, ScoreParts Parts);

/// <summary>
/// The retrieval pipeline, as numbered steps: embed, open the owner's index (one round trip), gather candidates by
/// vector and by keyword over the owner's current memories, score with weighted signals, cut.
/// </summary>
public sealed class SearchPipeline(MemoryIndex index, Embedder embedder, MemoryStore store, AccessTracker access,
    IOptions<RetrievalOptions> options, TimeProvider clock, GraphIndex graphs)
{
    public async Task<IReadOnlyList<ScoredMemory>> SearchAsync(Owner owner, SearchQuery query, CancellationToken ct)
    {
        // 1. embed the query (a failing embedder is a 503, never results from another model)
        var vector = query.QueryVector ?? await embedder.EmbedQueryAsync(query.Query, ct);

        // 2a. the query's lexemes and the owner's current rows (user, and knowledge when asked), proven current
        var view = await index.OpenAsync(owner, query.IncludeKnowledge, query.Query, vector, ct,
            needMetadata: query.MetadataEquals is { Count: > 0 } || query.MetadataIn is { Count: > 0 });
        var graph = await OpenGraphAsync(owner, view, query.Weights, ct);
        var ranked = Rank(view, query, vector, graph);
        if (!view.Complete)
        {
            var full = await CompleteAsync(owner.TenantId, ranked.Select(r => r.Memory), ct);
            ranked = ranked.Where(r => full.ContainsKey(r.Memory.Id)).Select(r => r with { Memory = full[r.Memory.Id] }).ToList();
        }
        return ranked;
    }

    /// <summary>
    /// The full rows of memories ranked from an index read for one request (which carries only ranked fields);
    /// one that was deleted since is missing.
    /// </summary>
    public Task<Dictionary<Guid, Memory>> CompleteAsync(Guid tenantId, IEnumerable<Memory> memories, CancellationToken ct) =>
        store.LoadAsync(tenantId, memories.Select(m => m.Id).Distinct().ToArray(), ct);

    /// <summary>2c. the owner's entity graph at the view's version, when the graph signal has weight.</summary>
    public async Task<GraphView?> OpenGraphAsync(Owner owner, IndexView view, RankingWeights? weights, CancellationToken ct) =>
        (weights ?? options.Value.Weights).Graph > 0 ? await graphs.OpenAsync(owner, view, ct) : null;

    /// <summary>Steps 2b-4 over an opened view (the context builder ranks one view several ways).</summary>
    public IReadOnlyList<ScoredMemory> Rank(IndexView view, SearchQuery query, float[] vector, GraphView? graph = null)
    {
        var o = options.Value;
        var weights = query.Weights ?? o.Weights;
        var now = clock.GetUtcNow();

        // 2b. gather candidates: top-N by cosine and top-N by BM25 over the owner's current, unexpired, matching rows
        var rows = Rows(view, query, now);
        // 2d. spreading activation from the query's entities: a memory reached through an entity is a candidate too
        var reached = weights.Graph > 0 && graph is not null ? graph.Activate(query.Query, graphs.Options) : null;
        var candidates = Gather(rows, view.QueryLexemes, vector, o, reached is { Count: > 0 } ? GraphRows(rows, reached, graphs.Options.MaxGraphCandidates) : null);
        if (candidates.Count == 0) return [];

        // 3. score: every signal in [0, 1], weighted; keyword relevance relative to the best match
        var maxKeyword = candidates.Max(c => c.Keyword);
        var halfLife = query.RecencyHalfLifeDays ?? o.RecencyHalfLifeDays;
        var relevanceWeight = weights.Similarity + weights.Keyword;
        var parts = candidates.Select(c => new ScoreParts(
            Similarity: Math.Clamp(c.Similarity ?? 0, 0, 1),
            Keyword: maxKeyword > 0 ? c.Keyword / maxKeyword : 0,
            Recency: Math.Pow(0.5, Math.Max(0, (now - c.ObservedAt).TotalDays) / halfLife),
            Importance: c.Importance,
            Activation: Activation(c, now, o.ActivationDecay),
            Context: 0,
            Graph: reached is not null && reached.TryGetValue(c.Id, out var hit) ? hit.Activation : 0,
            GraphPath: reached is not null && reached.TryGetValue(c.Id, out var via) ? via.Path : null)).ToArray();
        // a memory without a vector of the current model yet (a batch or a model change being embedded) is judged by its
        // words alone, as strongly as by words and meaning: else any row with a vector, related or not, would outrank it
        double Meaning(int i) => candidates[i].Similarity is null ? parts[i].Keyword : parts[i].Similarity;
        var relevance = parts.Select((p, i) => relevanceWeight > 0 ? (weights.Similarity * Meaning(i) + weights.Keyword * p.Keyword) / relevanceWeight : 0).ToArray();
        var context = EpisodeContext(candidates, relevance, TimeSpan.FromMinutes(o.EpisodeWindowMinutes), o.NeighbourRadius, o.NeighbourShare);
        // the graph weight counts only when the query reached something, so a query naming no entity scores as without it
        var total = relevanceWeight + weights.Recency + weights.Importance + weights.Activation + weights.Context
            + (reached is { Count: > 0 } ? weights.Graph : 0);
        if (total <= 0) total = 1;
        var scored = candidates.Select((c, i) =>
        {
            var p = parts[i] with { Context = context[i] };
            var score = (weights.Similarity * Meaning(i) + weights.Keyword * p.Keyword + weights.Recency * p.Recency
                + weights.Importance * p.Importance + weights.Activation * p.Activation + weights.Context * p.Context
                + weights.Graph * p.Graph) / total
                * (1 - o.ConfidenceDiscount * (1 - Math.Clamp(c.Confidence, 0, 1)));
            return (Candidate: c, Score: score, Parts: p);
        });

        // 4. min_score, top `limit` (rows are already only the owner's current ones); the result counts as an access
        var top = scored.Where(s => s.Score >= query.MinScore).OrderByDescending(s => s.Score).ThenBy(s => s.Candidate.Id).Take(query.Limit).ToList();
        var result = top.Select(t => new ScoredMemory(rows[t.Candidate.Row].Index.MemoryAt(rows[t.Candidate.Row].Row), t.Score, t.Parts)).ToList();
        if (query.RecordAccess && top.Count > 0)
        {
            foreach (var t in top) rows[t.Candidate.Row].Index.RecordAccess(rows[t.Candidate.Row].Row, now);
            access.Record(top.Select(t => t.Candidate.Id).ToArray());
        }
        return result;
    }

    /// <summary>A row of the view that passed the filters, in recording order.</summary>
    internal readonly record struct Ranked(OwnerIndex Index, int Row);

    /// <summary>
    /// The rows a search ranks: the view's owners merged in recording order (observed_at, then insertion order),
    /// without expired rows and rows the filters exclude. Superseded and deleted rows are not in an index at all.
    /// </summary>
    private static List<Ranked> Rows(IndexView view, SearchQuery q, DateTimeOffset now)
    {
        var rows = new List<Ranked>((view.User?.Count ?? 0) + (view.Knowledge?.Count ?? 0));
        var filter = MetadataFilter.From(q);
        var a = view.User ?? OwnerIndex.Empty;
        var b = view.Knowledge ?? OwnerIndex.Empty;
        int i = 0, j = 0;
        while (i < a.Count || j < b.Count)
        {
            var takeA = j >= b.Count || (i < a.Count && (a.Rows[i].Memory.ObservedAt, a.Rows[i].Seq).CompareTo((b.Rows[j].Memory.ObservedAt, b.Rows[j].Seq)) <= 0);
            var row = takeA ? new Ranked(a, i++) : new Ranked(b, j++);
            if (Matches(row.Index.Rows[row.Row], q, filter, now)) rows.Add(row);
        }
        return rows;
    }

    /// <summary>The query's metadata filters as immutable JSON elements, compared with each row's.</summary>
    private sealed record MetadataFilter(JsonElement? Contains, (string Field, JsonElement[] Values)[] In)
    {
        public static MetadataFilter From(SearchQuery q) => new(
            q.MetadataEquals is { Count: > 0 } equals ? JsonSerializer.SerializeToElement(equals) : null,
            (q.MetadataIn ?? new Dictionary<string, JsonArray>()).Select(f => (f.Key, f.Value.Select(v => JsonSerializer.SerializeToElement(v)).ToArray())).ToArray());
    }

    private static bool Matches(IndexRow row, SearchQuery q, MetadataFilter filter, DateTimeOffset now)
    {
        var m = row.Memory;
        return (m.ExpiresAt is null || m.ExpiresAt > now)
            && (q.Kinds is not { Count: > 0 } || q.Kinds.Contains(m.Kind))
            && (q.Tags is not { Count: > 0 } || m.Tags.Any(q.Tags.Contains))
            && (q.Key is null || m.Key == q.Key)
            && (filter.Contains is not { } contains || row.Metadata is { } metadata && JsonMatch.Contains(metadata, contains))
            && filter.In.All(f => row.Metadata is { } meta && meta.TryGetProperty(f.Field, out var value) && f.Values.Any(v => JsonMatch.Equal(value, v)));
    }

    /// <summary>
    /// Candidates by vector and by keyword. BM25 with tf = 1 (memories are short): idf from the ranked rows, length
    /// normalised by distinct lexemes; the query's lexemes are ORed, then expanded once with the best matches' words
    /// (pseudo-relevance feedback, RM3-style, at a lower weight). Exact: every row is scored, no approximate index.
    /// </summary>
    /// <summary>The ranked rows the graph reached, most activated first, at most <paramref name="max"/>.</summary>
    private static List<int> GraphRows(List<Ranked> rows, Dictionary<Guid, GraphHit> reached, int max)
    {
        var found = new List<(int Row, double Activation, Guid Id)>();
        for (var r = 0; r < rows.Count; r++)
            if (reached.TryGetValue(rows[r].Index.Rows[rows[r].Row].Memory.Id, out var hit)) found.Add((r, hit.Activation, rows[r].Index.Rows[rows[r].Row].Memory.Id));
        return found.OrderByDescending(f => f.Activation).ThenBy(f => f.Id).Take(max).Select(f => f.Row).ToList();
    }

    private List<Candidate> Gather(List<Ranked> rows, string[] queryLexemes, float[] vector, RetrievalOptions o, List<int>? alsoRows = null)
    {
        var n = rows.Count;
        if (n == 0) return [];

        // Where each ranked row sits, per index, so posting lists (index rows) map to ranked rows.
        var slot = new Dictionary<OwnerIndex, int[]>(2);
        for (var r = 0; r < n; r++)
        {
            if (!slot.TryGetValue(rows[r].Index, out var map))
                slot[rows[r].Index] = map = Enumerable.Repeat(-1, rows[r].Index.Count).ToArray();
            map[rows[r].Row] = r;
        }
        // The rows holding each of some lexemes: from the posting lists of a cached index, by one pass over an index
        // read for this request.
        Dictionary<string, List<int>> Holding(IEnumerable<string> lexemes)
        {
            var found = lexemes.Distinct(StringComparer.Ordinal).ToDictionary(l => l, _ => new List<int>(), StringComparer.Ordinal);
            foreach (var (ix, map) in slot)
            {
                if (ix.Postings is { } postings)
                {
                    foreach (var (lexeme, list) in found)
                        if (postings.TryGetValue(lexeme, out var holding))
                            foreach (var row in holding)
                                if (map[row] >= 0) list.Add(map[row]);
                }
                else
                {
                    for (var row = 0; row < ix.Count; row++)
                        if (map[row] >= 0)
                            foreach (var lexeme in ix.Rows[row].Lexemes)
                                if (found.TryGetValue(lexeme, out var list)) list.Add(map[row]);
                }
            }
            return found;
        }
        double Idf(int df) => Math.Log(1 + (n - df + 0.5) / (df + 0.5));

        var length = new double[n];
        for (var r = 0; r < n; r++) length[r] = rows[r].Index.Rows[rows[r].Row].Lexemes.Length;
        var avgLength = Math.Max(length.Average(), 1);
        double Norm(int r) => (o.Bm25K1 + 1) / (1 + o.Bm25K1 * (1 - o.Bm25B + o.Bm25B * length[r] / avgLength));

        // keyword: the query's own lexemes
        var query = queryLexemes.Distinct(StringComparer.Ordinal).ToArray();
        var matched = new double[n];
        var hit = new bool[n];
        foreach (var (_, holding) in Holding(query))
        {
            var idf = Idf(holding.Count);
            foreach (var r in holding) { matched[r] += idf; hit[r] = true; }
        }

        // keyword: feedback words from the best first-pass matches, weighted by how many share them and by idf
        if (o.FeedbackDocuments > 0 && o.FeedbackTerms > 0)
        {
            var best = Enumerable.Range(0, n).Where(r => hit[r]).OrderByDescending(r => matched[r] * Norm(r))
                .ThenBy(r => rows[r].Index.Rows[rows[r].Row].Memory.Id).Take(o.FeedbackDocuments);
            var tf = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var r in best)
                foreach (var word in rows[r].Index.Rows[rows[r].Row].Lexemes)
                {
                    if (Array.IndexOf(query, word) < 0) tf[word] = tf.GetValueOrDefault(word) + 1;
                }
            var holdingWord = Holding(tf.Keys);
            var expansion = tf.Select(e => (Word: e.Key, Tf: e.Value, Holding: holdingWord[e.Key]))
                .OrderByDescending(e => e.Tf * Math.Log((double)n / e.Holding.Count)).ThenBy(e => e.Word, StringComparer.Ordinal)
                .Take(o.FeedbackTerms);
            foreach (var e in expansion)
            {
                var idf = o.FeedbackWeight * Idf(e.Holding.Count);
                foreach (var r in e.Holding) { matched[r] += idf; hit[r] = true; }
            }
        }

        // vector: cosine against rows embedded by the current model
        var similarity = new double?[n];
        var queryNorm = VectorMath.Norm(vector);
        for (var r = 0; r < n; r++)
        {
            var (ix, row) = rows[r];
            var x = ix.Rows[row];
            if (x.Vector is { } v)
                similarity[r] = v.Length == vector.Length && x.Memory.EmbeddingModel == embedder.ModelId ? VectorMath.Cosine(v, x.Norm, vector, queryNorm) : null;
            else if (x.Similarity is { } cosine && !double.IsNaN(cosine))
                similarity[r] = cosine; // computed by PostgreSQL for this query, for rows of the current model only
        }

        Guid IdOf(int r) => rows[r].Index.Rows[rows[r].Row].Memory.Id;
        var picked = Enumerable.Range(0, n).Where(r => similarity[r] is not null)
            .OrderByDescending(r => similarity[r]).ThenBy(IdOf).Take(o.CandidatesPerSignal)
            .Union(Enumerable.Range(0, n).Where(r => hit[r]).OrderByDescending(r => matched[r] * Norm(r)).ThenBy(IdOf).Take(o.CandidatesPerSignal))
            .Union(alsoRows ?? []);
        return picked.Select(r =>
        {
            var (ix, row) = rows[r];
            var m = ix.Rows[row].Memory;
            return new Candidate(m.Id, similarity[r], hit[r] ? matched[r] * Norm(r) : 0, m.ObservedAt, m.Importance, ix.AccessCount(row),
                m.CreatedAt, Position: r + 1, Row: r, Confidence: m.Confidence);
        }).ToList();
    }

    /// <summary>
    /// ACT-R base-level activation B = ln Σ (t − t_j)^−d, approximated from the access count n, the first
    /// use (creation) and the lifetime L in hours: B ≈ ln(n / (1 − d)) − d·ln(L); squashed to [0, 1].
    /// </summary>
    internal static double Activation(Candidate c, DateTimeOffset now, double d) => Activation(c.AccessCount, c.CreatedAt, now, d);

    /// <summary>The same activation from a memory's access count and creation time (the lifecycle's forgetting reads it).</summary>
    public static double Activation(int accessCount, DateTimeOffset createdAt, DateTimeOffset now, double d)
    {
        var n = accessCount + 1; // creation counts as the first use
        var lifetimeHours = Math.Max((now - createdAt).TotalHours, 1.0 / 60);
        var b = Math.Log(n / (1 - d)) - d * Math.Log(lifetimeHours);
        return 1 / (1 + Math.Exp(-b));
    }

    /// <summary>
    /// Temporal contiguity, as in human episodic memory: what was recorded together cues each other. A
    /// memory's context signal mixes the best relevance among its immediate neighbours in recording order
    /// (within <paramref name="radius"/> positions, same episode) and, more weakly, the best relevance in
    /// its whole episode (observed within <paramref name="window"/>): the turn that answers a question rises
    /// with the turn that matched its words.
    /// </summary>
    internal static double[] EpisodeContext(IReadOnlyList<Candidate> candidates, double[] relevance, TimeSpan window, int radius,
        double neighbourShare)
    {
        var result = new double[candidates.Count];
        if (window <= TimeSpan.Zero) return result;
        var order = Enumerable.Range(0, candidates.Count).OrderBy(i => candidates[i].ObservedAt).ThenBy(i => candidates[i].Position).ToArray();
        var start = 0;
        for (var a = 0; a < order.Length; a++)
        {
            var i = order[a];
            while (candidates[i].ObservedAt - candidates[order[start]].ObservedAt > window) start++;
            double episode = 0, neighbour = 0;
            for (var b = start; b < order.Length && candidates[order[b]].ObservedAt - candidates[i].ObservedAt <= window; b++)
            {
                if (b == a) continue;
                var j = order[b];
                episode = Math.Max(episode, relevance[j]);
                if (Math.Abs(candidates[j].Position - candidates[i].Position) <= radius) neighbour = Math.Max(neighbour, relevance[j]);
            }
            result[i] = neighbourShare * neighbour + (1 - neighbourShare) * episode;
        }
        return result;
    }

    internal sealed record Candidate(Guid Id, double? Similarity, double Keyword, DateTimeOffset ObservedAt, double Importance,
        int AccessCount, DateTimeOffset CreatedAt, long Position = 0, int Row = 0, double Confidence = 1);
}
