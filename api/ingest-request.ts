import type { FieldIssue } from '../platform/errors.ts'
import type { LlmCall } from '../schemas/llm-call.ts'
import { eventTimeIssue, type EventTimeWindow } from '../schemas/event-time.ts'
import { checkLlmCall } from '../schemas/validate.ts'

/** The result of one item of a batch ingest request. */
export interface ItemResult {
  /** 0-based position of the item among the items of the body. */
  index: number
  /** For an NDJSON body: the 1-based line of the body the item came from, blank lines counted. */
  line?: number
  event_id?: string
  status: 'accepted' | 'duplicate' | 'rejected'
  errors?: FieldIssue[]
}

export interface ParsedIngest {
  events: LlmCall[]
  results: ItemResult[]
}

/** One item of a body: its parsed value, or why it could not be parsed. */
export interface BodyItem {
  value?: unknown
  error?: string
  /** Set for NDJSON bodies only. */
  line?: number
}

/**
 * Splits a request body into items. The whole body is tried as JSON first: an array gives its
 * elements, any other value (one event, pretty-printed or not) a batch of one. A body that is
 * not one JSON document is read as NDJSON, one item per non-blank line; a line that is not
 * JSON becomes one rejected item and does not spoil the others. Never throws.
 */
export function splitBody(body: string): BodyItem[] {
  let whole: unknown
  try {
    whole = JSON.parse(body)
  } catch (error) {
    // A broken array is one broken document: answered as a whole, not line by line.
    if (body.trimStart().startsWith('[')) {
      return [{ error: `body is not a valid JSON array: ${(error as Error).message}` }]
    }
    // Not a single JSON document (the usual case for NDJSON): read it line by line below.
    return splitLines(body)
  }
  return Array.isArray(whole) ? whole.map((value: unknown) => ({ value })) : [{ value: whole }]
}

function splitLines(body: string): BodyItem[] {
  const items: BodyItem[] = []
  body.split('\n').forEach((text, at) => {
    if (text.trim() === '') return
    const line = at + 1
    try {
      items.push({ value: JSON.parse(text) as unknown, line })
    } catch (error) {
      items.push({ error: `malformed JSON: ${(error as Error).message}`, line })
    }
  })
  return items
}

/**
 * Validates each item; repeats of an event_id within the request are answered as duplicates.
 * With a `tenant` (the caller's token is bound to one) an event that names no tenant belongs
 * to it, and an event for another tenant is rejected.
 */
export function validateItems(
  items: readonly BodyItem[],
  time: { now: number; window: EventTimeWindow },
  tenant?: string,
): ParsedIngest {
  const events: LlmCall[] = []
  const results: ItemResult[] = []
  const seen = new Set<string>()
  items.forEach((item, index) => {
    const where = item.line === undefined ? { index } : { index, line: item.line }
    if (item.error !== undefined) {
      results.push({ ...where, status: 'rejected', errors: [{ path: '', message: item.error }] })
      return
    }
    const checked = checkLlmCall(withTenant(item.value, tenant))
    if (!checked.ok) {
      const raw = item.value as { event_id?: unknown } | null
      const eventId = typeof raw?.event_id === 'string' ? raw.event_id : undefined
      results.push({
        ...where,
        ...(eventId ? { event_id: eventId } : {}),
        status: 'rejected',
        errors: checked.issues,
      })
      return
    }
    const id = checked.value.event_id
    const timeIssue = eventTimeIssue(checked.value.occurred_at, time.now, time.window)
    if (timeIssue) {
      results.push({ ...where, event_id: id, status: 'rejected', errors: [timeIssue] })
      return
    }
    if (tenant !== undefined && checked.value.tenant_id !== tenant) {
      const message = `this token may only write events of tenant "${tenant}"`
      results.push({
        ...where,
        event_id: id,
        status: 'rejected',
        errors: [{ path: 'tenant_id', message }],
      })
      return
    }
    if (seen.has(id)) {
      results.push({ ...where, event_id: id, status: 'duplicate' })
      return
    }
    seen.add(id)
    events.push(checked.value)
    results.push({ ...where, event_id: id, status: 'accepted' })
  })
  return { events, results }
}

function withTenant(value: unknown, tenant: string | undefined): unknown {
  if (tenant === undefined || typeof value !== 'object' || value === null) return value
  if ((value as { tenant_id?: unknown }).tenant_id !== undefined) return value
  return { ...value, tenant_id: tenant }
}

/**
 * Turns accepted items whose event_id is already known (audited, or accepted by an earlier
 * request) into duplicates, so a resend is answered `duplicate` whichever request it is in.
 */
export function markKnown(parsed: ParsedIngest, known: ReadonlySet<string>): ParsedIngest {
  if (known.size === 0) return parsed
  return {
    events: parsed.events.filter((event) => !known.has(event.event_id)),
    results: parsed.results.map((result) =>
      result.status === 'accepted' && result.event_id !== undefined && known.has(result.event_id)
        ? { ...result, status: 'duplicate' }
        : result,
    ),
  }
}
