import { formatUsd, type Femtos } from '../../platform/money.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import type { PriceResult } from '../pricing/pricer.ts'

/** Where an event came from: the input it can be traced back to. */
export interface EventSource {
  kind: 'kafka' | 'http' | 'replay' | 'demo'
  partition?: number
  offset?: string
}

/** One row of the `llm_calls` table, in the shape JSONEachRow inserts take. */
export interface AuditRow {
  event_id: string
  occurred_at: string
  started_at: string | null
  tenant_id: string
  agent_id: string
  agent_version: string | null
  feature_id: string | null
  user_id: string | null
  session_id: string | null
  team_id: string | null
  environment: string | null
  workflow_id: string | null
  trace_id: string | null
  span_id: string | null
  parent_span_id: string | null
  parent_agent_id: string | null
  tags: Record<string, string>
  task_category: string | null
  provider: string | null
  model: string
  response_model: string | null
  endpoint: string
  input_tokens: number
  output_tokens: number
  cache_read_tokens: number
  cache_write_tokens: number
  cache_write_1h_tokens: number
  reasoning_tokens: number
  usage_reported: boolean
  service_tier: string | null
  status: string
  error_type: string | null
  stop_reason: string | null
  latency_ms: number | null
  tool_calls: string[]
  request_fingerprint: string | null
  content_simhash: string | null
  iteration: number | null
  fallback_from_model: string | null
  fallback_reason: string | null
  fallback_exception_id: string | null
  provider_reported_cost: string | null
  price_status: 'priced' | 'unpriced'
  unpriced_reason: string | null
  priced_model: string | null
  price_version: string | null
  cost_input_usd: string | null
  cost_cache_read_usd: string | null
  cost_cache_write_usd: string | null
  cost_output_usd: string | null
  cost_reasoning_usd: string | null
  cost_usd: string | null
  detection_flags: string[]
  late: boolean
  source: string
  source_partition: number | null
  source_offset: string | null
  ingested_at: string
}

// The text of recently formatted seconds, with their dot, in slots by second: the events of a
// batch mostly fall in few seconds, and ingested_at is one instant per batch, so most calls
// only add the milliseconds.
const SLOTS = 64
const slotSecond = new Float64Array(SLOTS).fill(Number.NaN)
const slotPrefix = new Array<string>(SLOTS).fill('')

/** Epoch ms as the 'YYYY-MM-DD hh:mm:ss.sss' UTC text that DateTime64(3, 'UTC') parses. */
export function toClickHouseTime(time: number): string {
  const ms = Math.trunc(time)
  const millis = ((ms % 1000) + 1000) % 1000
  const second = ms - millis
  const slot = (second / 1000) & (SLOTS - 1)
  if (slotSecond[slot] !== second) {
    const iso = new Date(second).toISOString()
    // Years past 9999 (or before 0) are longer than 24 characters: format those in full.
    if (iso.length !== 24) return new Date(ms).toISOString().slice(0, -1).replace('T', ' ')
    slotSecond[slot] = second
    slotPrefix[slot] = `${iso.slice(0, 10)} ${iso.slice(11, 20)}`
  }
  const prefix = slotPrefix[slot]!
  return millis >= 100 ? `${prefix}${millis}` : `${prefix}${millis >= 10 ? '0' : '00'}${millis}`
}

const usd = (amount: Femtos): string => formatUsd(amount)

export interface AuditRowContext {
  price: PriceResult
  source: EventSource
  late: boolean
  ingestedAt: number
  detectionFlags?: string[]
}

export function toAuditRow(call: LlmCall, context: AuditRowContext): AuditRow {
  const { price } = context
  const cost = price.status === 'priced' ? price.cost : undefined
  return {
    event_id: call.event_id,
    occurred_at: toClickHouseTime(call.occurred_at),
    started_at: call.started_at === undefined ? null : toClickHouseTime(call.started_at),
    tenant_id: call.tenant_id,
    agent_id: call.agent_id,
    agent_version: call.agent_version ?? null,
    feature_id: call.feature_id ?? null,
    user_id: call.user_id ?? null,
    session_id: call.session_id ?? null,
    team_id: call.team_id ?? null,
    environment: call.environment ?? null,
    workflow_id: call.workflow_id ?? null,
    trace_id: call.trace_id ?? null,
    span_id: call.span_id ?? null,
    parent_span_id: call.parent_span_id ?? null,
    parent_agent_id: call.parent_agent_id ?? null,
    tags: call.tags,
    task_category: call.task_category ?? null,
    provider: call.provider ?? null,
    model: call.model,
    response_model: call.response_model ?? null,
    endpoint: call.endpoint,
    input_tokens: call.input_tokens,
    output_tokens: call.output_tokens,
    cache_read_tokens: call.cache_read_tokens,
    cache_write_tokens: call.cache_write_tokens,
    cache_write_1h_tokens: call.cache_write_1h_tokens,
    reasoning_tokens: call.reasoning_tokens,
    usage_reported: call.usage_reported,
    service_tier: call.service_tier ?? null,
    status: call.status,
    error_type: call.error_type ?? null,
    stop_reason: call.stop_reason ?? null,
    latency_ms: call.latency_ms ?? null,
    tool_calls: call.tool_calls,
    request_fingerprint: call.request_fingerprint ?? null,
    content_simhash: call.content_simhash ?? null,
    iteration: call.iteration ?? null,
    fallback_from_model: call.fallback?.from_model ?? null,
    fallback_reason: call.fallback?.reason ?? null,
    fallback_exception_id: call.fallback?.exception_id ?? null,
    provider_reported_cost: call.provider_reported_cost ?? null,
    price_status: price.status,
    unpriced_reason: price.status === 'unpriced' ? price.reason : null,
    priced_model: price.status === 'priced' ? price.entry.id : null,
    price_version: price.status === 'priced' ? price.priceVersion : null,
    cost_input_usd: cost ? usd(cost.input) : null,
    cost_cache_read_usd: cost ? usd(cost.cacheRead) : null,
    cost_cache_write_usd: cost ? usd(cost.cacheWrite) : null,
    cost_output_usd: cost ? usd(cost.output) : null,
    cost_reasoning_usd: cost ? usd(cost.reasoning) : null,
    cost_usd: cost ? usd(cost.total) : null,
    detection_flags: context.detectionFlags ?? [],
    late: context.late,
    source: context.source.kind,
    source_partition: context.source.partition ?? null,
    source_offset: context.source.offset ?? null,
    ingested_at: toClickHouseTime(context.ingestedAt),
  }
}
