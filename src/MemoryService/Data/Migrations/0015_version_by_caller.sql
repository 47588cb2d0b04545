-- A single create moves its owner's version itself, as its last statement before commit, instead of through the
-- trigger at its INSERT: the version row's lock (which serialises one owner's writers until they commit) is then held
-- for the commit alone, not also for the entity links and webhook reads that follow the insert. Such a transaction
-- sets memsvc.version_by_caller; every other write still moves the version through the trigger.
CREATE OR REPLACE FUNCTION memories_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('memsvc.access_only', true) = 'on' OR current_setting('memsvc.version_by_caller', true) = 'on' THEN
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
