-- Vectors in half precision (pgvector's halfvec): half the bytes on disk, on the wire and in each replica's in-memory
-- index, for retrieval that does not notice (LoCoMo recall@10 unchanged, docs/benchmarks.md). The stored halves are
-- the exact values every search compares: a search is exact over what is stored.
-- halfvec came with pgvector 0.7 (the service checks the available version at start): bring an older installed
-- extension up to what the server has.
ALTER EXTENSION vector UPDATE;
ALTER TABLE memories ALTER COLUMN embedding TYPE halfvec USING embedding::halfvec;
