-- Tokens of the daily quota reserved by model calls still running: a call in managed mode
-- reserves its estimated cost before the model is asked, and releases it when its real usage is
-- added. A reservation left by a core that stopped mid-call stays in its day's row, so it counts
-- against that day only.
ALTER TABLE usage_days ADD COLUMN reserved_tokens INTEGER NOT NULL DEFAULT 0;
