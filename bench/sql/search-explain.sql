-- EXPLAIN (ANALYZE, BUFFERS) of the per-user search SQL (copied from Retrieval/SearchPipeline.GatherAsync, no
-- filters) against a database seeded by the load benchmark (--data-dir DIR --keep-data). Usage:
--   psql -h DIR/run -U postgres memory -v user=load-000123 -v q='What food does the user like, sushi or ramen?' -f bench/sql/search-explain.sql
-- The query vector is another user's stored embedding: the same cost as an embedded query.
\set ON_ERROR_STOP on
SELECT tenant_id AS tenant, embedding_model AS model FROM memories WHERE user_id = :'user' LIMIT 1 \gset
SELECT embedding::real[]::text AS qvec FROM memories WHERE user_id <> :'user' LIMIT 1 \gset
SET jit = off;
PREPARE search(uuid, text, boolean, text, text, real[], timestamptz, int, float8, float8) AS
WITH cand AS MATERIALIZED (
    SELECT m.id, m.search_text, length(m.search_text) AS len, m.observed_at, m.importance, m.access_count, m.created_at,
           CASE WHEN m.embedding_model = $4 THEN 1 - (m.embedding <=> $6::real[]::vector) END AS sim
    FROM memories m
    WHERE m.tenant_id = $1
      AND (m.user_id = $2 OR ($2 IS NULL AND m.user_id IS NULL) OR ($3 AND m.user_id IS NULL))
      AND m.valid_to IS NULL AND (m.expires_at IS NULL OR m.expires_at > $7)
), lex AS MATERIALIZED (
    SELECT DISTINCT w, quote_literal(w)::tsquery AS tq FROM unnest(tsvector_to_array(to_tsvector('english', $5))) AS w
), hits AS MATERIALIZED (
    SELECT c.id, c.len, l.w FROM cand c JOIN lex l ON c.search_text @@ l.tq
), stats AS (
    SELECT count(*) AS n, greatest(avg(len), 1) AS avglen FROM cand
), idf AS (
    SELECT h.w, ln(1 + (s.n - count(*) + 0.5) / (count(*) + 0.5)) AS idf
    FROM hits h CROSS JOIN stats s GROUP BY h.w, s.n
), kw AS (
    SELECT h.id, sum(i.idf) * ($9 + 1) / (1 + $9 * (1 - $10 + $10 * h.len / s.avglen)) AS kw
    FROM hits h JOIN idf i ON i.w = h.w CROSS JOIN stats s
    GROUP BY h.id, h.len, s.avglen
), picked AS (
    (SELECT id FROM cand WHERE sim IS NOT NULL ORDER BY sim DESC LIMIT $8)
    UNION
    (SELECT id FROM kw ORDER BY kw DESC LIMIT $8)
)
SELECT c.id, c.sim, coalesce(kw.kw, 0), c.observed_at, c.importance, c.access_count, c.created_at
FROM picked JOIN cand c ON c.id = picked.id LEFT JOIN kw ON kw.id = c.id;
EXPLAIN (ANALYZE, BUFFERS)
EXECUTE search(:'tenant', :'user', true, :'model', :'q', :'qvec', now(), 100, 1.2, 0.75);
