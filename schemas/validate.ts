import type { z } from 'zod'
import { ValidationError, type FieldIssue } from '../platform/errors.ts'
import { fastCheckLlmCall } from './fast-validate.ts'
import { llmCallSchema, type LlmCall } from './llm-call.ts'

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; issues: FieldIssue[] }

/** Turns zod issues into `{ path, message }` pairs with dotted paths (`fallback.reason`). */
export function toFieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }))
}

/** Validates one candidate event without throwing. */
export function checkLlmCall(candidate: unknown): ValidationResult<LlmCall> {
  // The fast copy of the contract takes what clearly holds; anything else gets zod's verdict.
  const fast = fastCheckLlmCall(candidate)
  if (fast !== undefined) return { ok: true, value: fast }
  const parsed = llmCallSchema.safeParse(candidate)
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, issues: toFieldIssues(parsed.error) }
}

/** Validates one event, throwing a ValidationError that names each bad field. */
export function parseLlmCall(candidate: unknown): LlmCall {
  const result = checkLlmCall(candidate)
  if (!result.ok) throw new ValidationError(result.issues, 'invalid llm_call event')
  return result.value
}
