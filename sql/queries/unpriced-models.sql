/*
description: >-
  Models whose calls were audited unpriced over a period: how many, how many are still
  unpriced (with their tokens, what pricing them needs) and what repricing has priced since.
period: range
reads: calls
params:
  tenant:
    type: String
    default: ''
    help: Only this tenant's calls (empty, the default, is every tenant).
*/
SELECT
    provider,
    model,
    count() AS unpriced_calls,
    countIf(call_usd IS NULL) AS still_unpriced_calls,
    countIf(call_usd IS NOT NULL) AS repriced_calls,
    sum(call_usd) AS repriced_usd,
    sumIf(input_tokens, call_usd IS NULL) AS still_unpriced_input_tokens,
    sumIf(output_tokens, call_usd IS NULL) AS still_unpriced_output_tokens,
    min(occurred_at) AS first_call,
    max(occurred_at) AS last_call,
    arrayStringConcat(arraySort(groupUniqArray(unpriced_reason)), '; ') AS reasons
FROM calls
WHERE audited_call_usd IS NULL
GROUP BY provider, model
ORDER BY still_unpriced_calls DESC, unpriced_calls DESC, provider, model
