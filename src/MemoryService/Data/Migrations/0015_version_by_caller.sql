-- An insert that moves its owner's version itself (one plain UPDATE of users or tenants, as the service's inserts do)
-- sets memsvc.version_by_caller around the statement, and the insert trigger leaves that statement alone.
DROP TRIGGER memories_inserted ON memories;
CREATE TRIGGER memories_inserted AFTER INSERT ON memories REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT WHEN (current_setting('memsvc.version_by_caller', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION memories_changed();
