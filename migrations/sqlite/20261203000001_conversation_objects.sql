-- Conversations as objects of their own: titled, with a model and instructions of their own, and
-- every message searchable by word. A chat's conversation number stays the chat's current one;
-- each conversation row is one number of one chat.
CREATE TABLE conversations (
    id            TEXT    PRIMARY KEY,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chat_id       TEXT    NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    number        INTEGER NOT NULL,
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
    message_count INTEGER NOT NULL,
    create_time   INTEGER NOT NULL,
    -- When a message was last added (or the conversation created): the list's order.
    update_time   INTEGER NOT NULL
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
    SELECT substr(trim(replace(m.text, char(10), ' ')), 1, 60) FROM messages m
    WHERE m.chat_id = conversations.chat_id AND m.conversation = conversations.number AND m.role = 'user'
    ORDER BY m.id LIMIT 1), '');
UPDATE conversations SET peer_name = COALESCE((
    SELECT m.sender_name FROM messages m
    WHERE m.chat_id = conversations.chat_id AND m.conversation = conversations.number AND m.role = 'user'
    ORDER BY m.id DESC LIMIT 1), '');

-- The messages again, with an integer key the search index refers to (a rowid not declared as
-- the key may change on VACUUM), the conversation they belong to, their owner (the index keeps
-- it as a word, so that a search reads only the owner's matches), the model that wrote a reply,
-- and whether a reply was stopped while it was written.
CREATE TABLE messages_v2 (
    seq               INTEGER PRIMARY KEY,
    id                TEXT    NOT NULL UNIQUE,
    conversation_id   TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    chat_id           TEXT    NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id           TEXT    NOT NULL,
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
    attempt_count     INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    -- The model that wrote a reply; empty for a person's message.
    model             TEXT    NOT NULL,
    -- 1 for a reply stopped while it was written: its text is what arrived.
    stopped           INTEGER NOT NULL,
    create_time       INTEGER NOT NULL
);
INSERT INTO messages_v2
    (id, conversation_id, chat_id, user_id, role, text, sender_id, sender_name, external_id, reply_id,
     failure_reason, failure_detail, attempt_count, prompt_tokens, completion_tokens, model, stopped, create_time)
SELECT m.id, v.id, m.chat_id, v.user_id, m.role, m.text, m.sender_id, m.sender_name, m.external_id, m.reply_id,
       m.failure_reason, m.failure_detail, m.attempt_count, m.prompt_tokens, m.completion_tokens, '', 0, m.create_time
FROM messages m JOIN conversations v ON v.chat_id = m.chat_id AND v.number = m.conversation
ORDER BY m.id;
DROP TABLE messages;
ALTER TABLE messages_v2 RENAME TO messages;
CREATE INDEX messages_history ON messages (conversation_id, id);
-- The updates seen: one stored message per channel message id, so that a redelivery gets the
-- stored reply instead of a second answer.
CREATE UNIQUE INDEX updates_seen ON messages (chat_id, external_id);

-- Full-text search over the messages' text, by word in any language (unicode61 folds case and
-- diacritics in Latin and Cyrillic alike), with the owner as a second column. The index reads
-- its text from messages; the triggers keep it in step on every insert, change and delete.
CREATE VIRTUAL TABLE message_search USING fts5 (
    text, user_id, content = 'messages', content_rowid = 'seq', tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO message_search (message_search) VALUES ('rebuild');
CREATE TRIGGER message_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_search (rowid, text, user_id) VALUES (new.seq, new.text, new.user_id);
END;
CREATE TRIGGER message_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO message_search (message_search, rowid, text, user_id) VALUES ('delete', old.seq, old.text, old.user_id);
END;
CREATE TRIGGER message_search_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO message_search (message_search, rowid, text, user_id) VALUES ('delete', old.seq, old.text, old.user_id);
    INSERT INTO message_search (rowid, text, user_id) VALUES (new.seq, new.text, new.user_id);
END;
