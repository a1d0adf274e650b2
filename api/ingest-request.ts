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

const NEWLINE = 0x0a
const BYTE_ORDER_MARK = Buffer.from([0xef, 0xbb, 0xbf])

/**
 * Splits a request body (UTF-8 bytes, already checked) into items. A body of one JSON document
 * gives one batch: an array its elements, any other value (one event, pretty-printed or not) a
 * batch of one. Otherwise it is NDJSON, one item per non-blank line; a line that is not JSON
 * becomes one rejected item and does not spoil the others. Never throws.
 *
 * NDJSON is decoded line by line: one string of a whole body of megabytes lands in the
 * collector's large-object space and cost 20 times as much to make as its lines apart.
 */
export function splitBody(body: Buffer): BodyItem[] {
  const start = body.subarray(0, 3).equals(BYTE_ORDER_MARK) ? 3 : 0
  const firstBreak = body.indexOf(NEWLINE, start)
  const firstLine = body.toString('utf8', start, firstBreak < 0 ? body.length : firstBreak)
  if (firstBreak < 0) return wholeDocument(firstLine)
  // A first line that is a JSON value on its own starts NDJSON (or is the whole body, if only
  // blanks follow); one that is not starts a document written over many lines.
  const ndjson = !firstLine.trimStart().startsWith('[') && parses(firstLine)
  if (!ndjson) return wholeDocument(body.toString('utf8', start))
  return blankFrom(body, firstBreak) ? wholeDocument(firstLine) : splitLines(body, start)
}

function wholeDocument(text: string): BodyItem[] {
  let whole: unknown
  try {
    whole = JSON.parse(text)
  } catch (error) {
    // A broken array is one broken document: answered as a whole, not line by line.
    if (text.trimStart().startsWith('[')) {
      return [{ error: `body is not a valid JSON array: ${(error as Error).message}` }]
    }
    // Not one JSON document: read it line by line, so each broken line is named.
    return splitLines(Buffer.from(text), 0)
  }
  return Array.isArray(whole) ? whole.map((value: unknown) => ({ value })) : [{ value: whole }]
}

function parses(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

function blankFrom(body: Buffer, from: number): boolean {
  for (let at = from; at < body.length; at++) {
    const byte = body[at]
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return false
  }
  return true
}

function splitLines(body: Buffer, start: number): BodyItem[] {
  const items: BodyItem[] = []
  let line = 0
  for (let from = start; from <= body.length;) {
    const end = body.indexOf(NEWLINE, from)
    const to = end < 0 ? body.length : end
    line++
    const text = body.toString('utf8', from, to)
    from = to + 1
    if (text.trim() === '') continue
    try {
      items.push({ value: JSON.parse(text) as unknown, line })
    } catch (error) {
      items.push({ error: `malformed JSON: ${(error as Error).message}`, line })
    }
  }
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
