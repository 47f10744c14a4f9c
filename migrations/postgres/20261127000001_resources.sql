-- Providers, resources and the bot switch. Times are milliseconds since the Unix epoch.

-- Each provider as its latest attached instance described it, so that its resources can be
-- listed, validated and edited while no instance is online.
CREATE TABLE providers (
    name                 TEXT    PRIMARY KEY,
    display_name         TEXT    NOT NULL,
    description          TEXT    NOT NULL,
    version              TEXT    NOT NULL,
    settings_schema_json TEXT    NOT NULL,
    -- JSON arrays of top-level setting names.
    secret_fields        TEXT    NOT NULL,
    identity_fields      TEXT    NOT NULL,
    update_time          BIGINT  NOT NULL
);

-- One connection of one user to one provider. Secrets are one sealed JSON object; their masks
-- are kept apart so that reading a resource never opens them.
CREATE TABLE resources (
    id                TEXT    PRIMARY KEY,
    user_id           TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider          TEXT    NOT NULL,
    name              TEXT    NOT NULL,
    meta_json         TEXT    NOT NULL,
    secrets_sealed    TEXT,
    secret_masks      TEXT    NOT NULL,
    -- A keyed hash of the provider and its identity fields' values: one external account, one
    -- resource. NULL when the provider names no identity fields.
    identity_hash     TEXT    UNIQUE,
    desired_state     TEXT    NOT NULL,
    -- Grows with every start and every change of settings or secrets.
    generation        BIGINT  NOT NULL,
    state             TEXT    NOT NULL,
    state_detail      TEXT    NOT NULL,
    state_reason      TEXT    NOT NULL,
    state_action      TEXT    NOT NULL,
    state_change_time BIGINT  NOT NULL,
    -- A JSON array of {key, label, value, kind}, as last reported by the edge.
    status_info       TEXT    NOT NULL,
    create_time       BIGINT  NOT NULL,
    update_time       BIGINT  NOT NULL
);
CREATE INDEX resources_user_id ON resources (user_id, id);
CREATE INDEX resources_provider ON resources (provider);

-- The bot's switch: off until the user starts it.
ALTER TABLE profiles ADD COLUMN bot_enabled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN bot_switch_time BIGINT;
