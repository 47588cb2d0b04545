-- Searches bump access_count/last_accessed_at on the rows they return (AccessTracker, every second).
-- A memory row is ~2 KB (384-d vector), so a full page holds four with no room for a new version: every
-- bump was a non-HOT update that moved the row to another page and added an entry to every index, which
-- scatters a user's rows (more pages per search) and bloats the indexes. Leaving 15% free keeps those
-- updates on the same page (HOT, no index writes). Applies to pages written from now on.
ALTER TABLE memories SET (fillfactor = 85);
