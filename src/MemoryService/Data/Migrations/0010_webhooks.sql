-- Webhooks: endpoints, the outbox of events (written in the same transaction as the change they describe), and one
-- delivery per (endpoint, event) that the dispatcher on any replica claims with FOR UPDATE SKIP LOCKED.
CREATE TABLE webhooks (
    id                   uuid PRIMARY KEY,
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url                  text NOT NULL,
    events               text[] NOT NULL,
    description          text NULL,
    secret               text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    consecutive_failures integer NOT NULL DEFAULT 0,
    disabled_at          timestamptz NULL,
    disabled_reason      text NULL
);
CREATE INDEX ix_webhooks_tenant ON webhooks (tenant_id, created_at, id);

-- body is the exact JSON that is signed and posted; user_id lets an erasure remove a user's undelivered events.
CREATE TABLE webhook_events (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    text NULL,
    type       text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_webhook_events_user ON webhook_events (tenant_id, user_id);
CREATE INDEX ix_webhook_events_created ON webhook_events (created_at);

-- id is also the order within a lane: one user's events (lane = user id, '' for the tenant's knowledge) reach an
-- endpoint in the order they were committed.
CREATE TABLE webhook_deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    lane             text NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    locked_until     timestamptz NULL,
    claim_token      uuid NULL,
    last_status_code integer NULL,
    last_error       text NULL,
    last_duration_ms integer NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE status IN ('pending', 'running');
CREATE INDEX ix_webhook_deliveries_lane ON webhook_deliveries (webhook_id, lane, id) WHERE status IN ('pending', 'running');
CREATE INDEX ix_webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id DESC);
CREATE INDEX ix_webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX ix_webhook_deliveries_done ON webhook_deliveries (updated_at) WHERE status IN ('delivered', 'failed');

-- memory.expired: the sweeper (one replica at a time, the row locked with SKIP LOCKED) announces memories whose
-- expires_at passed since (swept_until, last_id).
CREATE TABLE webhook_expiry_watermark (
    id          integer PRIMARY KEY CHECK (id = 1),
    swept_until timestamptz NOT NULL,
    last_id     uuid NOT NULL
);
INSERT INTO webhook_expiry_watermark VALUES (1, now(), '00000000-0000-0000-0000-000000000000');
CREATE INDEX ix_memories_expires_at ON memories (expires_at, id) WHERE expires_at IS NOT NULL;
