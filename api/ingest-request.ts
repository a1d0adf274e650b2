import type { FieldIssue } from '../platform/errors.ts'
import type { LlmCall } from '../schemas/llm-call.ts'
import { checkLlmCall } from '../schemas/validate.ts'

/** The result of one item of a batch ingest request. */
export interface ItemResult {
  index: number
  event_id?: string
  status: 'accepted' | 'duplicate' | 'rejected'
  errors?: FieldIssue[]
}

export interface ParsedIngest {
  events: LlmCall[]
  results: ItemResult[]
}

/**
 * Splits a request body into items: a JSON array, or NDJSON (one event per line). A line
 * that is not JSON is one rejected item; it does not spoil the others.
 */
export function splitBody(body: string): Array<{ value?: unknown; error?: string }> {
  const trimmed = body.trimStart()
  if (trimmed.startsWith('[')) {
    let parsed: unknown
    try {
      parsed = JSON.parse(trimmed)
    } catch (error) {
      throw new SyntaxError(`body is not a valid JSON array: ${(error as Error).message}`)
    }
    if (!Array.isArray(parsed))
      throw new SyntaxError('body must be a JSON array of events or NDJSON')
    return parsed.map((value: unknown) => ({ value }))
  }
  return body
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return { value: JSON.parse(line) as unknown }
      } catch (error) {
        return { error: `malformed JSON: ${(error as Error).message}` }
      }
    })
}

/** Validates each item; repeats of an event_id within the request are answered as duplicates. */
export function validateItems(items: Array<{ value?: unknown; error?: string }>): ParsedIngest {
  const events: LlmCall[] = []
  const results: ItemResult[] = []
  const seen = new Set<string>()
  items.forEach((item, index) => {
    if (item.error !== undefined) {
      results.push({ index, status: 'rejected', errors: [{ path: '', message: item.error }] })
      return
    }
    const checked = checkLlmCall(item.value)
    if (!checked.ok) {
      const raw = item.value as { event_id?: unknown } | null
      const eventId = typeof raw?.event_id === 'string' ? raw.event_id : undefined
      results.push({
        index,
        ...(eventId ? { event_id: eventId } : {}),
        status: 'rejected',
        errors: checked.issues,
      })
      return
    }
    const id = checked.value.event_id
    if (seen.has(id)) {
      results.push({ index, event_id: id, status: 'duplicate' })
      return
    }
    seen.add(id)
    events.push(checked.value)
    results.push({ index, event_id: id, status: 'accepted' })
  })
  return { events, results }
}
