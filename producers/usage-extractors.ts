import { ValidationError, type FieldIssue } from '../platform/errors.ts'

/**
 * Usage in the event contract's meaning: `input_tokens` counts all input, cached included, and
 * `cache_read_tokens` / `cache_write_tokens` are parts of it; `reasoning_tokens` are part of
 * `output_tokens`. Spread it into the event: `emitter.emit({ ...fields, ...usageFromOpenAI(r) })`.
 */
export interface ExtractedUsage {
  input_tokens: number
  output_tokens: number
  cache_read_tokens: number
  cache_write_tokens: number
  reasoning_tokens: number
  /** The model id the provider answered with (alias drift shows here). */
  response_model?: string
  stop_reason?: string
}

type Count = number | null | undefined

/** The parts of an OpenAI Chat Completions or Responses API response that carry usage. */
export interface OpenAIResponseLike {
  model?: string | null
  /** Responses API: `completed`, `incomplete`, `failed`, ... */
  status?: string | null
  incomplete_details?: { reason?: string | null } | null
  choices?: ReadonlyArray<{ finish_reason?: string | null }> | null
  usage?: {
    // Chat Completions
    prompt_tokens?: Count
    completion_tokens?: Count
    prompt_tokens_details?: { cached_tokens?: Count } | null
    completion_tokens_details?: { reasoning_tokens?: Count } | null
    // Responses API
    input_tokens?: Count
    output_tokens?: Count
    input_tokens_details?: { cached_tokens?: Count } | null
    output_tokens_details?: { reasoning_tokens?: Count } | null
  } | null
}

/** The parts of an Anthropic Messages API response that carry usage. */
export interface AnthropicResponseLike {
  model?: string | null
  stop_reason?: string | null
  usage?: {
    input_tokens?: Count
    output_tokens?: Count
    cache_read_input_tokens?: Count
    cache_creation_input_tokens?: Count
  } | null
}

/** The parts of a Google Gemini generateContent response that carry usage. */
export interface GoogleResponseLike {
  modelVersion?: string | null
  candidates?: ReadonlyArray<{ finishReason?: string | null }> | null
  usageMetadata?: {
    promptTokenCount?: Count
    candidatesTokenCount?: Count
    thoughtsTokenCount?: Count
    cachedContentTokenCount?: Count
    toolUsePromptTokenCount?: Count
    totalTokenCount?: Count
  } | null
}

/** Reads token counts, collecting one issue per bad provider field. */
class Counter {
  readonly issues: FieldIssue[] = []

  read(value: unknown, path: string): number {
    if (value === undefined || value === null) return 0
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      this.issues.push({
        path,
        message: `must be a non-negative integer, got ${typeof value === 'number' ? value : typeof value}`,
      })
      return 0
    }
    return value
  }

  notAbove(part: number, partPath: string, whole: number, wholePath: string): void {
    if (part > whole) {
      this.issues.push({ path: partPath, message: `(${part}) exceeds ${wholePath} (${whole})` })
    }
  }

  result(provider: string, usage: ExtractedUsage, model: unknown, stop: unknown): ExtractedUsage {
    if (this.issues.length > 0) throw new ValidationError(this.issues, `invalid ${provider} usage`)
    const out: ExtractedUsage = { ...usage }
    if (typeof model === 'string' && model.length > 0) out.response_model = model
    if (typeof stop === 'string' && stop.length > 0) out.stop_reason = stop
    return out
  }
}

/**
 * OpenAI Chat Completions (`prompt_tokens`, `completion_tokens`) or Responses API
 * (`input_tokens`, `output_tokens`). Both count cached input inside the input total and
 * reasoning inside the output total, as the contract does; OpenAI reports no cache writes.
 */
export function usageFromOpenAI(response: OpenAIResponseLike): ExtractedUsage {
  const c = new Counter()
  const u = response.usage ?? {}
  const chat = u.prompt_tokens != null || u.completion_tokens != null
  const [inName, outName] = chat
    ? (['prompt_tokens', 'completion_tokens'] as const)
    : (['input_tokens', 'output_tokens'] as const)
  const [inDetails, outDetails] = chat
    ? (['prompt_tokens_details', 'completion_tokens_details'] as const)
    : (['input_tokens_details', 'output_tokens_details'] as const)

  const input = c.read(u[inName], `usage.${inName}`)
  const output = c.read(u[outName], `usage.${outName}`)
  const cachedPath = `usage.${inDetails}.cached_tokens`
  const reasoningPath = `usage.${outDetails}.reasoning_tokens`
  const cached = c.read(u[inDetails]?.cached_tokens, cachedPath)
  const reasoning = c.read(u[outDetails]?.reasoning_tokens, reasoningPath)
  c.notAbove(cached, cachedPath, input, `usage.${inName}`)
  c.notAbove(reasoning, reasoningPath, output, `usage.${outName}`)

  const stop =
    response.choices?.[0]?.finish_reason ?? response.incomplete_details?.reason ?? response.status
  return c.result(
    'OpenAI',
    {
      input_tokens: input,
      output_tokens: output,
      cache_read_tokens: cached,
      cache_write_tokens: 0,
      reasoning_tokens: reasoning,
    },
    response.model,
    stop,
  )
}

/**
 * Anthropic Messages: `input_tokens` there EXCLUDES cache reads and cache writes, so the
 * contract's input total adds them back. Extended thinking is billed inside `output_tokens`
 * and not reported apart, so `reasoning_tokens` stays 0.
 */
export function usageFromAnthropic(response: AnthropicResponseLike): ExtractedUsage {
  const c = new Counter()
  const u = response.usage ?? {}
  const uncached = c.read(u.input_tokens, 'usage.input_tokens')
  const output = c.read(u.output_tokens, 'usage.output_tokens')
  const cacheRead = c.read(u.cache_read_input_tokens, 'usage.cache_read_input_tokens')
  const cacheWrite = c.read(u.cache_creation_input_tokens, 'usage.cache_creation_input_tokens')
  return c.result(
    'Anthropic',
    {
      input_tokens: uncached + cacheRead + cacheWrite,
      output_tokens: output,
      cache_read_tokens: cacheRead,
      cache_write_tokens: cacheWrite,
      reasoning_tokens: 0,
    },
    response.model,
    response.stop_reason,
  )
}

/**
 * Google Gemini: `promptTokenCount` includes the cached content, but `candidatesTokenCount`
 * EXCLUDES thinking, so the contract's output adds `thoughtsTokenCount`. Tokens of tool-use
 * prompts (e.g. search grounding) are billed as input and reported apart, so they are added
 * to the input total.
 */
export function usageFromGoogle(response: GoogleResponseLike): ExtractedUsage {
  const c = new Counter()
  const u = response.usageMetadata ?? {}
  const prompt = c.read(u.promptTokenCount, 'usageMetadata.promptTokenCount')
  const toolPrompt = c.read(u.toolUsePromptTokenCount, 'usageMetadata.toolUsePromptTokenCount')
  const candidates = c.read(u.candidatesTokenCount, 'usageMetadata.candidatesTokenCount')
  const thoughts = c.read(u.thoughtsTokenCount, 'usageMetadata.thoughtsTokenCount')
  const cached = c.read(u.cachedContentTokenCount, 'usageMetadata.cachedContentTokenCount')
  c.notAbove(
    cached,
    'usageMetadata.cachedContentTokenCount',
    prompt,
    'usageMetadata.promptTokenCount',
  )
  return c.result(
    'Google',
    {
      input_tokens: prompt + toolPrompt,
      output_tokens: candidates + thoughts,
      cache_read_tokens: cached,
      cache_write_tokens: 0,
      reasoning_tokens: thoughts,
    },
    response.modelVersion,
    response.candidates?.[0]?.finishReason,
  )
}
