/*
description: >-
  Cost per call by provider and model over a period: the least, the 50th, 90th and 99th
  percentiles and the most, exact (quantileExact: each is the cost of an actual call) over the
  priced calls, repricing adjustments included; unpriced calls are counted in unpriced_calls and
  take no part in the percentiles.
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
    count() AS calls,
    countIf(call_usd IS NULL) AS unpriced_calls,
    min(call_usd) AS min_usd,
    quantileExact(0.5)(call_usd) AS p50_usd,
    quantileExact(0.9)(call_usd) AS p90_usd,
    quantileExact(0.99)(call_usd) AS p99_usd,
    max(call_usd) AS max_usd,
    sum(call_usd) AS cost_usd
FROM calls
GROUP BY provider, model
ORDER BY cost_usd DESC NULLS LAST, calls DESC, provider, model
