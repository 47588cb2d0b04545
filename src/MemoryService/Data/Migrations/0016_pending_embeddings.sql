-- The background embedder takes pending memories (no vector yet, or another model's) a batch at a time in index order:
-- each batch reads only its own rows through (embedding_model, id), however many memories are already done. The old
-- single-column index is covered by the new one. Building it takes a few seconds per million memories and blocks
-- writes to memories meanwhile.
CREATE INDEX ix_memories_embedding_model_id ON memories (embedding_model, id);
DROP INDEX ix_memories_embedding_model;
