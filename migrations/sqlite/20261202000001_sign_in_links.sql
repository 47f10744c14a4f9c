-- One-time sign-in links the operator makes for an account (`assistchat-core users create`),
-- for a server whose registration is closed. Found by the hash of the token in the link, spent
-- by its first use. Times are milliseconds since the Unix epoch.
CREATE TABLE sign_in_links (
    token_hash  TEXT    PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expire_time INTEGER NOT NULL
);
