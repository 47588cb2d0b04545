-- Memory lifecycle: an archived memory is kept (listed with include_archived, exported, restorable) but never served;
-- a pinned one is never forgotten. History rows carry what an event links to (merged ids, a feedback signal).
ALTER TABLE memories ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived'));
ALTER TABLE memories ADD COLUMN pinned boolean NOT NULL DEFAULT false;
ALTER TABLE memory_history ADD COLUMN detail jsonb NULL;

-- Per-tenant lifecycle settings (thresholds, steps the scheduler runs); absent = the configured defaults.
CREATE TABLE lifecycle_settings (
    tenant_id  uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    settings   jsonb NOT NULL,
    updated_at timestamptz NOT NULL
);

-- The owner version each owner's last lifecycle run left behind (user_id '' = the tenant's knowledge): the scheduler
-- runs only owners whose version moved since, and writes this row in the run's own transaction, so a run that died
-- is simply run again.
CREATE TABLE lifecycle_state (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id   text NOT NULL,
    version   bigint NOT NULL,
    ran_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
