-- Event contract v2: 1-hour cache writes (part of cache_write_tokens), the service tier the
-- provider billed, and whether the provider reported usage at all (false: the token counts
-- are unknown, not zero, and the call is unpriced). Old rows read as 0, NULL and true.
ALTER TABLE llm_calls
    ADD COLUMN IF NOT EXISTS cache_write_1h_tokens UInt64 DEFAULT 0 AFTER cache_write_tokens,
    ADD COLUMN IF NOT EXISTS service_tier LowCardinality(Nullable(String)) AFTER endpoint,
    ADD COLUMN IF NOT EXISTS usage_reported Bool DEFAULT true AFTER reasoning_tokens;
