-- Conversations as objects of their own: titled, with a model and instructions of their own, and
-- every message searchable by word. A chat's conversation number stays the chat's current one;
-- each conversation row is one number of one chat.
CREATE TABLE conversations (
    id            TEXT    PRIMARY KEY,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chat_id       TEXT    NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    number        BIGINT  NOT NULL,
    -- Empty until the first exchange titles it.
    title         TEXT    NOT NULL,
    -- How the title came: 'person', 'model', 'words', or '' while untitled.
    title_source  TEXT    NOT NULL,
    -- The model asked; empty for the person's default.
    model         TEXT    NOT NULL,
    -- Instructions for the model; empty for the channel's own or the platform's.
    instructions  TEXT    NOT NULL,
    -- The person on the other side as the channel names them (the last one who wrote).
    peer_name     TEXT    NOT NULL,
    message_count BIGINT  NOT NULL,
    create_time   BIGINT  NOT NULL,
    -- When a message was last added (or the conversation created): the list's order.
    update_time   BIGINT  NOT NULL
);
CREATE UNIQUE INDEX conversations_number ON conversations (chat_id, number);
CREATE INDEX conversations_recent ON conversations (user_id, update_time, id);

-- Every conversation that has messages, its id the id of its first message (ids are unique and
-- grow with time), titled with the first words of the person's first message.
INSERT INTO conversations
    (id, user_id, chat_id, number, title, title_source, model, instructions, peer_name, message_count, create_time,
     update_time)
SELECT MIN(m.id), c.user_id, m.chat_id, m.conversation, '', '', '', '', '', COUNT(*), MIN(m.create_time), MAX(m.create_time)
FROM messages m JOIN chats c ON c.id = m.chat_id
GROUP BY m.chat_id, m.conversation, c.user_id;
UPDATE conversations SET title_source = 'words', title = COALESCE((
    SELECT substr(trim(replace(m.text, chr(10), ' ')), 1, 60) FROM messages m
    WHERE m.chat_id = conversations.chat_id AND m.conversation = conversations.number AND m.role = 'user'
    ORDER BY m.id LIMIT 1), '');
UPDATE conversations SET peer_name = COALESCE((
    SELECT m.sender_name FROM messages m
    WHERE m.chat_id = conversations.chat_id AND m.conversation = conversations.number AND m.role = 'user'
    ORDER BY m.id DESC LIMIT 1), '');

-- Each message's conversation and owner, the model that wrote a reply, and whether a reply was
-- stopped while it was written (its text is then what arrived).
ALTER TABLE messages ADD COLUMN conversation_id TEXT REFERENCES conversations (id) ON DELETE CASCADE;
ALTER TABLE messages ADD COLUMN user_id TEXT;
ALTER TABLE messages ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN stopped BIGINT NOT NULL DEFAULT 0;
UPDATE messages SET conversation_id = v.id, user_id = v.user_id
FROM conversations v WHERE v.chat_id = messages.chat_id AND v.number = messages.conversation;
ALTER TABLE messages ALTER COLUMN conversation_id SET NOT NULL;
ALTER TABLE messages ALTER COLUMN user_id SET NOT NULL;
ALTER TABLE messages ALTER COLUMN model DROP DEFAULT;
ALTER TABLE messages ALTER COLUMN stopped DROP DEFAULT;
-- Dropping the number drops the index on it too.
ALTER TABLE messages DROP COLUMN conversation;
CREATE INDEX messages_history ON messages (conversation_id, id);
CREATE INDEX messages_owner ON messages (user_id, id);

-- Full-text search over the messages' text, by word in any language (the 'simple'
-- configuration folds case and keeps every word as written, Latin and Cyrillic alike). The
-- column is computed by the database on every insert and change, and the index follows it.
ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED;
CREATE INDEX message_search ON messages USING GIN (search);
