-- Tables fed by materialized views keep a deduplication window of their own, so that an audit
-- insert retried after a lost acknowledgement (deduplicated in llm_calls) is not counted again
-- downstream: the audit store inserts with deduplicate_blocks_in_dependent_materialized_views.
ALTER TABLE llm_calls_daily MODIFY SETTING non_replicated_deduplication_window = 10000;

ALTER TABLE llm_call_ids MODIFY SETTING non_replicated_deduplication_window = 10000;
