-- The entity graph: people, places, organisations, pets, things and events an owner's memories mention (user_id NULL =
-- the tenant's knowledge), which memories mention them (with a role), and relations between them stated by a memory,
-- valid from its observed_at until a later memory contradicts it. Written in the same transaction as the memories.
CREATE TABLE entities (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    text NULL,
    name       text NOT NULL,
    -- lower(name), and the key the rules resolve a name to: one entity per owner and normalised name
    norm_name  text NOT NULL,
    type       text NOT NULL CHECK (type IN ('person', 'place', 'organisation', 'pet', 'thing', 'event')),
    -- lower-case other ways the owner refers to it ("sister" for "my sister Anna")
    aliases    text[] NOT NULL DEFAULT '{}',
    is_self    boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ix_entities_owner_name ON entities (tenant_id, coalesce(user_id, ''), norm_name);
CREATE INDEX ix_entities_owner ON entities (tenant_id, user_id, id);

CREATE TABLE entity_mentions (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    memory_id uuid NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    entity_id uuid NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    role      text NOT NULL CHECK (role IN ('subject', 'object', 'mention')),
    PRIMARY KEY (entity_id, memory_id)
);
CREATE INDEX ix_entity_mentions_memory ON entity_mentions (memory_id);

CREATE TABLE entity_relations (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    subject_id uuid NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    predicate  text NOT NULL,
    object_id  uuid NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    memory_id  uuid NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    valid_from timestamptz NOT NULL,
    valid_to   timestamptz NULL
);
CREATE INDEX ix_entity_relations_subject ON entity_relations (subject_id, predicate) WHERE valid_to IS NULL;
CREATE INDEX ix_entity_relations_object ON entity_relations (object_id);
CREATE INDEX ix_entity_relations_memory ON entity_relations (memory_id);
