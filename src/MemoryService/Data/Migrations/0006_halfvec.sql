-- Vectors in half precision (pgvector's halfvec): half the bytes on disk, on the wire and in each replica's in-memory
-- index, for retrieval that does not notice (LoCoMo recall@10 unchanged, docs/benchmarks.md). The stored halves are
-- the exact values every search compares: a search is exact over what is stored.
ALTER TABLE memories ALTER COLUMN embedding TYPE halfvec USING embedding::halfvec;
