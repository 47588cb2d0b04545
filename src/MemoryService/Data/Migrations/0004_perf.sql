-- Searches bump access_count/last_accessed_at on the rows they return (AccessTracker, every second).
-- A memory row is ~2 KB (384-d vector), so a full page holds four with no room for a new version: every
-- bump was a non-HOT update that moved the row to another page and added an entry to every index, which
-- scatters a user's rows (more pages per search) and bloats the indexes. Leaving 15% free keeps those
-- updates on the same page (HOT, no index writes). Applies to pages written from now on.
ALTER TABLE memories SET (fillfactor = 85);

-- The context builder's two list reads (preferences by importance, recent events) read a user's top rows in
-- index order instead of fetching and sorting all of the user's rows. Partial: only current rows of that kind.
CREATE INDEX ix_memories_preferences ON memories (tenant_id, user_id, importance DESC, observed_at DESC)
    WHERE kind = 'preference' AND valid_to IS NULL;
CREATE INDEX ix_memories_events ON memories (tenant_id, user_id, observed_at DESC, id DESC)
    WHERE kind = 'event' AND valid_to IS NULL;
