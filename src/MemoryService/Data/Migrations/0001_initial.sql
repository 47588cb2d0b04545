-- Tenants, keys, users, memories (with embedding and full-text columns), history, idempotency records.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE tenants (
    id               uuid PRIMARY KEY,
    name             text NOT NULL UNIQUE,
    context_template text NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         text NULL,
    prefix       text NOT NULL,
    key_hash     bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz NULL,
    last_used_at timestamptz NULL
);
CREATE INDEX ix_api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE users (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

-- user_id NULL = the tenant's app-wide knowledge (a composite FK with a NULL column is not checked).
CREATE TABLE memories (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id          text NULL,
    kind             text NOT NULL CHECK (kind IN ('preference', 'fact', 'event', 'knowledge')),
    content          text NOT NULL,
    key              text NULL,
    tags             text[] NOT NULL DEFAULT '{}',
    metadata         jsonb NOT NULL DEFAULT '{}',
    importance       real NOT NULL CHECK (importance BETWEEN 0 AND 1),
    confidence       real NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    source           text NOT NULL CHECK (source IN ('user', 'inferred', 'import')),
    observed_at      timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    valid_from       timestamptz NOT NULL,
    valid_to         timestamptz NULL,
    expires_at       timestamptz NULL,
    superseded_by    uuid NULL,
    version          integer NOT NULL DEFAULT 1,
    access_count     integer NOT NULL DEFAULT 0,
    last_accessed_at timestamptz NULL,
    embedding        vector NULL,
    embedding_model  text NULL,
    search_text      tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
-- Every hot query is keyed by tenant and user: lists page by (created_at, id), search scans one user's rows.
CREATE INDEX ix_memories_owner ON memories (tenant_id, user_id, created_at DESC, id DESC);
CREATE INDEX ix_memories_current_key ON memories (tenant_id, user_id, key) WHERE valid_to IS NULL AND key IS NOT NULL;
CREATE INDEX ix_memories_embedding_model ON memories (embedding_model);

-- Append-only; memory_id has no FK so a deleted memory's history stays (erasing a user removes it).
CREATE TABLE memory_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     text NULL,
    memory_id   uuid NOT NULL,
    event       text NOT NULL,
    old_content text NULL,
    new_content text NULL,
    changed_at  timestamptz NOT NULL,
    actor       text NULL
);
CREATE INDEX ix_memory_history_memory ON memory_history (tenant_id, memory_id, id);
CREATE INDEX ix_memory_history_user ON memory_history (tenant_id, user_id);

CREATE TABLE idempotency_records (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    user_id       text NULL,
    status_code   integer NOT NULL,
    response_body text NOT NULL,
    location      text NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX ix_idempotency_user ON idempotency_records (tenant_id, user_id);
