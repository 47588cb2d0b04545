-- Every change to a user's memories (or a tenant's knowledge) moves that owner's version, in the same transaction,
-- so a replica that keeps an owner's index in memory can tell with one cheap read whether it is still current.
-- Versions come from one sequence, so a user erased and created again never reuses an old version.
CREATE SEQUENCE memory_versions;
ALTER TABLE users ADD COLUMN memory_version bigint NOT NULL DEFAULT nextval('memory_versions');
ALTER TABLE tenants ADD COLUMN knowledge_version bigint NOT NULL DEFAULT nextval('memory_versions');

-- Statement-level: a batch of 1,000 rows moves its owner's version once. Access statistics (access_count,
-- last_accessed_at) are written with memsvc.access_only set and move nothing: they are a ranking hint that the
-- index applies itself, and bumping on every search would make every cached index stale within a second.
CREATE FUNCTION memories_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('memsvc.access_only', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE users u SET memory_version = nextval('memory_versions')
        WHERE (u.tenant_id, u.id) IN (SELECT tenant_id, user_id FROM new_rows WHERE user_id IS NOT NULL);
        UPDATE tenants t SET knowledge_version = nextval('memory_versions')
        WHERE t.id IN (SELECT tenant_id FROM new_rows WHERE user_id IS NULL);
    END IF;
    -- A row never changes owner, so an update's new rows name every owner it touched.
    IF TG_OP = 'DELETE' THEN
        UPDATE users u SET memory_version = nextval('memory_versions')
        WHERE (u.tenant_id, u.id) IN (SELECT tenant_id, user_id FROM old_rows WHERE user_id IS NOT NULL);
        UPDATE tenants t SET knowledge_version = nextval('memory_versions')
        WHERE t.id IN (SELECT tenant_id FROM old_rows WHERE user_id IS NULL);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER memories_inserted AFTER INSERT ON memories REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memories_changed();
CREATE TRIGGER memories_updated AFTER UPDATE ON memories REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memories_changed();
CREATE TRIGGER memories_deleted AFTER DELETE ON memories REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memories_changed();
