-- Conversations and AI usage. Times are milliseconds since the Unix epoch.

-- One chat of one channel: a resource's chat as its edge names it, or a user's browser chat
-- (resource_id NULL). Each reset starts a new conversation: the model sees only the current
-- one's messages.
CREATE TABLE chats (
    id           TEXT    PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    resource_id  TEXT    REFERENCES resources (id) ON DELETE CASCADE,
    chat_key     TEXT    NOT NULL,
    conversation BIGINT  NOT NULL,
    create_time  BIGINT  NOT NULL
);
CREATE UNIQUE INDEX chats_key ON chats (user_id, COALESCE(resource_id, ''), chat_key);
CREATE INDEX chats_resource_id ON chats (resource_id);

-- Every message of every chat. A person's message is stored before the model is asked; the
-- reply after, with reply_id linking the two; a failed attempt leaves its reason on the
-- person's message.
CREATE TABLE messages (
    id                TEXT    PRIMARY KEY,
    chat_id           TEXT    NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    conversation      BIGINT  NOT NULL,
    -- 'user' or 'assistant'.
    role              TEXT    NOT NULL,
    text              TEXT    NOT NULL,
    sender_id         TEXT    NOT NULL,
    sender_name       TEXT    NOT NULL,
    -- The channel's id of a person's message; NULL when the channel gave none.
    external_id       TEXT,
    reply_id          TEXT,
    failure_reason    TEXT    NOT NULL,
    failure_detail    TEXT    NOT NULL,
    attempt_count     BIGINT  NOT NULL,
    prompt_tokens     BIGINT  NOT NULL,
    completion_tokens BIGINT  NOT NULL,
    create_time       BIGINT  NOT NULL
);
CREATE INDEX messages_history ON messages (chat_id, conversation, id);
-- The updates seen: one stored message per channel message id, so that a redelivery gets the
-- stored reply instead of a second answer.
CREATE UNIQUE INDEX updates_seen ON messages (chat_id, external_id);

-- Tokens per user per UTC day. managed_tokens is the part paid with the platform's key, which
-- the daily quota counts.
CREATE TABLE usage_days (
    user_id           TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day               TEXT    NOT NULL,
    prompt_tokens     BIGINT  NOT NULL,
    completion_tokens BIGINT  NOT NULL,
    managed_tokens    BIGINT  NOT NULL,
    request_count     BIGINT  NOT NULL,
    estimated         BIGINT  NOT NULL,
    PRIMARY KEY (user_id, day)
);
