-- Requests about the form of answers seen in a user's conversations ("shorter, please", "in Spanish"), one row per
-- key, value and conversation: once a value has been seen in Learning:BehaviourRepeats conversations it becomes a
-- standing preference and the key's rows are deleted, so an owner never has more rows per value than that count.
CREATE TABLE behaviour_signals (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id      text NOT NULL,
    key          text NOT NULL,
    value        text NOT NULL,
    conversation text NOT NULL,
    evidence     text NOT NULL,
    observed_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id, key, value, conversation)
);

-- The conversation a learning job's exchange belongs to (chat: derived from the conversation's first user turn), so a
-- request repeated in one chat counts once.
ALTER TABLE learning_jobs ADD COLUMN conversation text NULL;
