-- Insertion order of memories (a batch keeps the order its items were given in, e.g. conversation turns),
-- so retrieval can tell which memories were recorded next to each other.
ALTER TABLE memories ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
