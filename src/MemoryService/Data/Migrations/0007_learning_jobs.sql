-- Learning that chat (and any other caller) asked for, kept until it is done: a job is committed before the reply that
-- announces it, claimed by any replica with FOR UPDATE SKIP LOCKED, and held under a lease (locked_until) so the job of
-- a worker that died is claimed again. A learned job is deleted in the same transaction as the memories it wrote.
-- No foreign key to users: a user who has never written exists only once the first memory is learned.
CREATE TABLE learning_jobs (
    id                      uuid PRIMARY KEY,
    tenant_id               uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id                 text NOT NULL,
    status                  text NOT NULL CHECK (status IN ('pending', 'running', 'failed')),
    messages                jsonb NOT NULL,
    observed_at             timestamptz NOT NULL,
    -- The offset observed_at was given in (timestamptz keeps only the instant); relative dates resolve in it.
    observed_offset_minutes smallint NOT NULL DEFAULT 0,
    time_zone               text NULL,
    actor                   text NOT NULL,
    attempts                integer NOT NULL DEFAULT 0,
    run_after               timestamptz NOT NULL,
    locked_until            timestamptz NULL,
    claim_token             uuid NULL,
    last_error              text NULL,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL
);
CREATE INDEX ix_learning_jobs_due ON learning_jobs (run_after) WHERE status = 'pending';
CREATE INDEX ix_learning_jobs_lease ON learning_jobs (locked_until) WHERE status = 'running';
CREATE INDEX ix_learning_jobs_owner ON learning_jobs (tenant_id, user_id, id);
