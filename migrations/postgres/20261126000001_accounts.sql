-- Accounts, sessions, personal API tokens and profiles. Times are milliseconds since the Unix
-- epoch; ids are time-ordered UUIDv7 strings.

CREATE TABLE users (
    id            TEXT    PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    create_time   BIGINT  NOT NULL
);

CREATE TABLE profiles (
    user_id           TEXT    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    display_name      TEXT    NOT NULL,
    language_code     TEXT    NOT NULL,
    ai_mode           TEXT    NOT NULL,
    openai_key_sealed TEXT,
    openai_key_mask   TEXT    NOT NULL DEFAULT '',
    openai_key_state  TEXT    NOT NULL DEFAULT 'missing',
    openai_base_url   TEXT    NOT NULL DEFAULT '',
    openai_model      TEXT    NOT NULL DEFAULT '',
    update_time       BIGINT  NOT NULL
);

-- Only hashes of tokens are stored: a leaked table grants no access.
CREATE TABLE sessions (
    id             TEXT    PRIMARY KEY,
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash     TEXT    NOT NULL UNIQUE,
    create_time    BIGINT  NOT NULL,
    last_seen_time BIGINT  NOT NULL,
    expire_time    BIGINT  NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE api_tokens (
    id            TEXT    PRIMARY KEY,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    token_hash    TEXT    NOT NULL UNIQUE,
    create_time   BIGINT  NOT NULL,
    last_use_time BIGINT
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id, id);
