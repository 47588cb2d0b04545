using System.Text.Json.Nodes;
using MemoryService.Memories;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

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

/// <summary>Each signal in [0, 1] and the weighted score.</summary>
public sealed record ScoreParts(double Similarity, double Keyword, double Recency, double Importance, double Activation, double Context);

public sealed record ScoredMemory(Memory Memory, double Score, ScoreParts Parts);

/// <summary>
/// The retrieval pipeline, as numbered steps: embed, gather candidates by vector and by keyword in
/// one SQL statement over the owner's current memories, score with weighted signals, cut and load.
/// </summary>
public sealed class SearchPipeline(NpgsqlDataSource dataSource, Embedder embedder, MemoryStore store, AccessTracker access,
    IOptions<RetrievalOptions> options, TimeProvider clock)
{
    public async Task<IReadOnlyList<ScoredMemory>> SearchAsync(Owner owner, SearchQuery query, CancellationToken ct)
    {
        var o = options.Value;
        var weights = query.Weights ?? o.Weights;
        var now = clock.GetUtcNow();

        // 1. embed the query (a failing embedder is a 503, never results from another model)
        var vector = query.QueryVector ?? await embedder.EmbedAsync(query.Query, ct);

        // 2. gather candidates: top-N by cosine and top-N by BM25 over the owner's current memories
        var candidates = await GatherAsync(owner, query, vector, o, now, ct);
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
            Context: 0)).ToArray();
        var relevance = parts.Select(p => relevanceWeight > 0 ? (weights.Similarity * p.Similarity + weights.Keyword * p.Keyword) / relevanceWeight : 0).ToArray();
        var context = EpisodeContext(candidates, relevance, TimeSpan.FromMinutes(o.EpisodeWindowMinutes), o.NeighbourRadius, o.NeighbourShare);
        var total = relevanceWeight + weights.Recency + weights.Importance + weights.Activation + weights.Context;
        if (total <= 0) total = 1;
        var scored = candidates.Select((c, i) =>
        {
            var p = parts[i] with { Context = context[i] };
            var score = (weights.Similarity * p.Similarity + weights.Keyword * p.Keyword + weights.Recency * p.Recency
                + weights.Importance * p.Importance + weights.Activation * p.Activation + weights.Context * p.Context) / total;
            return (c.Id, Score: score, Parts: p);
        });

        // 4. min_score, top `limit`, load the memories (already filtered to current, owned rows)
        var top = scored.Where(s => s.Score >= query.MinScore).OrderByDescending(s => s.Score).ThenBy(s => s.Id).Take(query.Limit).ToList();
        if (top.Count == 0) return [];
        var ids = top.Select(t => t.Id).ToArray();
        var memories = await store.LoadAsync(owner.TenantId, ids, ct);
        if (query.RecordAccess) access.Record(ids);
        return top.Where(t => memories.ContainsKey(t.Id)).Select(t => new ScoredMemory(memories[t.Id], t.Score, t.Parts)).ToList();
    }

    /// <summary>
    /// The ranking statement (parameters $1..$13 as bound in GatherAsync; <paramref name="extra"/> holds filter
    /// predicates on <c>m</c> with parameters from $14 on). Internal so the bench's <c>explain</c> runs this
    /// exact text.
    /// </summary>
    internal static string RankingSql(string extra) => $"""
            WITH cand AS MATERIALIZED (
                -- recording order numbered over the owner's rows after the cosine is taken, so the sort
                -- carries no vectors
                SELECT r.*, row_number() OVER (ORDER BY r.observed_at, r.seq) AS pos FROM (
                    SELECT m.id, m.search_text, length(m.search_text) AS len, m.observed_at, m.seq, m.importance, m.access_count,
                           m.created_at, CASE WHEN m.embedding_model = $4 THEN 1 - (m.embedding <=> $6::real[]::vector) END AS sim
                    FROM memories m
                    WHERE m.tenant_id = $1
                      AND (m.user_id = $2 OR ($2 IS NULL AND m.user_id IS NULL) OR ($3 AND m.user_id IS NULL))
                      AND m.valid_to IS NULL AND (m.expires_at IS NULL OR m.expires_at > $7){extra}
                    OFFSET 0) r -- a fence: without it the subquery is flattened and the sort carries the vectors
            ), stats AS (
                SELECT count(*) AS n, greatest(avg(len), 1) AS avglen FROM cand
            ), qlex AS MATERIALIZED (
                SELECT DISTINCT w, quote_literal(w)::tsquery AS tq FROM unnest(tsvector_to_array(to_tsvector('english', $5))) AS w
            ), hits AS MATERIALIZED (
                SELECT c.id, c.len, c.sim, c.observed_at, c.importance, c.access_count, c.created_at, c.pos, l.w
                FROM cand c JOIN qlex l ON c.search_text @@ l.tq
            ), idf AS (
                SELECT h.w, ln(1 + (s.n - count(*) + 0.5) / (count(*) + 0.5)) AS idf
                FROM hits h CROSS JOIN stats s GROUP BY h.w, s.n
            ), kw1 AS (
                SELECT h.id, sum(i.idf) * ($8 + 1) / (1 + $8 * (1 - $9 + $9 * h.len / s.avglen)) AS kw
                FROM hits h JOIN idf i ON i.w = h.w CROSS JOIN stats s
                GROUP BY h.id, h.len, s.avglen
            ), fb AS (
                -- pseudo-relevance feedback: words of the best keyword matches, weighted by how many share them and by idf
                SELECT u.w, count(*) AS tf
                FROM (SELECT id FROM kw1 ORDER BY kw DESC, id LIMIT $10) t JOIN cand c USING (id)
                CROSS JOIN LATERAL unnest(tsvector_to_array(c.search_text)) AS u(w)
                WHERE u.w NOT IN (SELECT w FROM qlex)
                GROUP BY u.w
            ), fbdf AS (
                SELECT u.lexeme AS w, count(*) AS df FROM cand c CROSS JOIN LATERAL unnest(c.search_text) AS u
                WHERE u.lexeme IN (SELECT w FROM fb) GROUP BY u.lexeme
            ), expansion AS MATERIALIZED (
                SELECT quote_literal(fb.w)::tsquery AS tq, $11 * ln(1 + (s.n - d.df + 0.5) / (d.df + 0.5)) AS idf
                FROM fb JOIN fbdf d USING (w) CROSS JOIN stats s
                ORDER BY fb.tf * ln(s.n::float8 / d.df) DESC, fb.w LIMIT $12
            ), kw AS (
                SELECT x.id, sum(x.idf) * ($8 + 1) / (1 + $8 * (1 - $9 + $9 * x.len / s.avglen)) AS kw,
                       x.sim, x.observed_at, x.importance, x.access_count, x.created_at, x.pos
                FROM (SELECT h.id, h.len, i.idf, h.sim, h.observed_at, h.importance, h.access_count, h.created_at, h.pos
                      FROM hits h JOIN idf i ON i.w = h.w
                      UNION ALL
                      SELECT c.id, c.len, e.idf, c.sim, c.observed_at, c.importance, c.access_count, c.created_at, c.pos
                      FROM cand c JOIN expansion e ON c.search_text @@ e.tq) x
                CROSS JOIN stats s
                GROUP BY x.id, x.len, s.avglen, x.sim, x.observed_at, x.importance, x.access_count, x.created_at, x.pos
            )
            -- No joins at the end: CTE row estimates are guesses, and a nested loop over them cost ~100 ms on a
            -- freshly loaded table. The top of each signal goes back with its fields, plus every keyword
            -- score (so a vector-picked row gets its BM25 too); the service merges them.
            (SELECT 0 AS part, id, sim, NULL::float8 AS kw, observed_at, importance, access_count, created_at, pos
             FROM cand WHERE sim IS NOT NULL ORDER BY sim DESC, id LIMIT $13)
            UNION ALL
            (SELECT 1, id, sim, kw, observed_at, importance, access_count, created_at, pos FROM kw ORDER BY kw DESC, id LIMIT $13)
            UNION ALL
            SELECT 2, id, NULL, kw, NULL, NULL, NULL, NULL, NULL FROM kw
            """;

    /// <summary>
    /// ACT-R base-level activation B = ln Σ (t − t_j)^−d, approximated from the access count n, the first
    /// use (creation) and the lifetime L in hours: B ≈ ln(n / (1 − d)) − d·ln(L); squashed to [0, 1].
    /// </summary>
    internal static double Activation(Candidate c, DateTimeOffset now, double d)
    {
        var n = c.AccessCount + 1; // creation counts as the first use
        var lifetimeHours = Math.Max((now - c.CreatedAt).TotalHours, 1.0 / 60);
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
        int AccessCount, DateTimeOffset CreatedAt, long Position = 0);

    private async Task<List<Candidate>> GatherAsync(Owner owner, SearchQuery q, float[] vector, RetrievalOptions o,
        DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand();
        var p = cmd.Parameters;
        p.AddWithValue(owner.TenantId);                                                    // $1
        p.Add(new NpgsqlParameter { Value = (object?)owner.UserId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text }); // $2
        p.AddWithValue(q.IncludeKnowledge && owner.UserId is not null);                   // $3
        p.AddWithValue(embedder.ModelId);                                                  // $4
        p.AddWithValue(q.Query);                                                           // $5
        p.AddWithValue(vector);                                                            // $6
        p.AddWithValue(now);                                                               // $7
        p.AddWithValue(o.Bm25K1);                                                          // $8
        p.AddWithValue(o.Bm25B);                                                           // $9
        p.AddWithValue(o.FeedbackDocuments);                                               // $10
        p.AddWithValue(o.FeedbackWeight);                                                  // $11
        p.AddWithValue(o.FeedbackDocuments > 0 ? o.FeedbackTerms : 0);                     // $12
        p.AddWithValue(o.CandidatesPerSignal);                                             // $13

        // Filters become extra predicates with their own parameters: never text from the request.
        var filters = new List<string>();
        string Param(object value, NpgsqlDbType? type = null)
        {
            var parameter = type is { } t ? new NpgsqlParameter { Value = value, NpgsqlDbType = t } : new NpgsqlParameter { Value = value };
            p.Add(parameter);
            return "$" + p.Count;
        }
        if (q.Kinds is { Count: > 0 }) filters.Add($"m.kind = ANY({Param(q.Kinds.Select(k => k.ToString().ToLowerInvariant()).ToArray())})");
        if (q.Tags is { Count: > 0 }) filters.Add($"m.tags && {Param(q.Tags.ToArray())}::text[]");
        if (q.Key is not null) filters.Add($"m.key = {Param(q.Key)}");
        if (q.MetadataEquals is { Count: > 0 }) filters.Add($"m.metadata @> {Param(q.MetadataEquals.ToJsonString(), NpgsqlDbType.Jsonb)}");
        foreach (var (field, values) in q.MetadataIn ?? new Dictionary<string, JsonArray>())
            filters.Add($"(m.metadata -> {Param(field)}) = ANY({Param(values.Select(v => v?.ToJsonString() ?? "null").ToArray())}::jsonb[])");
        var extra = filters.Count > 0 ? " AND " + string.Join(" AND ", filters) : "";

        // Per-user exact search: the (tenant_id, user_id) index narrows to one owner's rows, so results equal
        // an exact scan whatever the table size. BM25 with tf = 1 (memories are short): idf from this
        // owner's rows, length normalised by distinct lexemes; the query's lexemes are ORed, then expanded
        // once with the best matches' words (pseudo-relevance feedback, RM3-style, at a lower weight).
        // Each (row, lexeme) match is found once (hits) and feeds both df and the score.
        cmd.CommandText = RankingSql(extra);
        var picked = new Dictionary<Guid, Candidate>();
        var keyword = new Dictionary<Guid, double>();
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var id = reader.GetGuid(1);
                if (reader.GetInt32(0) == 2)
                {
                    keyword[id] = reader.GetDouble(3);
                    continue;
                }
                picked[id] = new Candidate(id, reader.IsDBNull(2) ? null : reader.GetDouble(2), 0, reader.GetFieldValue<DateTimeOffset>(4),
                    reader.GetFloat(5), reader.GetInt32(6), reader.GetFieldValue<DateTimeOffset>(7), reader.GetInt64(8));
            }
        }
        return picked.Values.Select(c => c with { Keyword = keyword.GetValueOrDefault(c.Id) }).ToList();
    }
}
