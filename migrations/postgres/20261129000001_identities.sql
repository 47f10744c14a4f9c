-- Sign-in with outside identity providers (OpenID Connect). Times are milliseconds since the
-- Unix epoch. An account made by a provider has no password: users.password_hash is '' for it.

-- An outside identity an account signs in with, known by its issuer and subject (never by its
-- email, which the person can change at the provider).
CREATE TABLE identities (
    id          TEXT    PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider_id TEXT    NOT NULL,
    issuer      TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    email       TEXT    NOT NULL,
    create_time BIGINT NOT NULL
);
CREATE UNIQUE INDEX identities_issuer_subject ON identities (issuer, subject);
CREATE INDEX identities_user_id ON identities (user_id);

-- A sign-in begun and not yet finished: found by the hash of its state, spent by its finish.
-- user_id is set when it links an identity to that account instead of signing in.
CREATE TABLE sign_in_flows (
    state_hash    TEXT    PRIMARY KEY,
    provider_id   TEXT    NOT NULL,
    pkce_verifier TEXT    NOT NULL,
    nonce         TEXT    NOT NULL,
    user_id       TEXT    REFERENCES users (id) ON DELETE CASCADE,
    expire_time   BIGINT NOT NULL
);

-- An identity whose email belongs to an existing account, waiting for that account's password
-- before it is linked. Found by the hash of the link token given to the person.
CREATE TABLE pending_links (
    token_hash  TEXT    PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider_id TEXT    NOT NULL,
    issuer      TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    email       TEXT    NOT NULL,
    expire_time BIGINT NOT NULL
);
