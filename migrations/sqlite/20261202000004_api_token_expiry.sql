-- Personal API tokens may expire: the time they stop working, in Unix milliseconds; NULL means
-- never (every token made before this had no expiry).
ALTER TABLE api_tokens ADD COLUMN expire_time INTEGER;
