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
  /** Part of cache_write_tokens written with a 1-hour lifetime (Anthropic). */
  cache_write_1h_tokens: number
  /**
   * False when the response carried no usage at all (a stream without usage, a failed call):
   * the counts are then unknown, not zero, and the call is flagged and left unpriced.
   */
  usage_reported: boolean
  /** The model id the provider answered with (alias drift shows here). */
  response_model?: string
  stop_reason?: string
  service_tier?: string
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
    prompt_tokens_details?: { cached_tokens?: Count; cache_write_tokens?: Count } | null
    completion_tokens_details?: { reasoning_tokens?: Count } | null
    // Responses API
    input_tokens?: Count
    output_tokens?: Count
    input_tokens_details?: { cached_tokens?: Count; cache_write_tokens?: Count } | null
    output_tokens_details?: { reasoning_tokens?: Count } | null
  } | null
  /** The tier the call was billed in: `default`, `flex`, `priority`, ... */
  service_tier?: string | null
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
    /** The cache writes by lifetime; together they make cache_creation_input_tokens. */
    cache_creation?: {
      ephemeral_5m_input_tokens?: Count
      ephemeral_1h_input_tokens?: Count
    } | null
    /** Extended thinking, part of output_tokens. */
    output_tokens_details?: { thinking_tokens?: Count } | null
    service_tier?: string | null
  } | null
}

/** The parts of a Google Gemini generateContent response that carry usage. */
export interface GoogleResponseLike {
  modelVersion?: string | null
  candidates?: ReadonlyArray<{ finishReason?: string | null }> | null
  usageMetadata?: {
    promptTokenCount?: Count
    candidatesTokenCount?: Count
    /** The Live API's name for the response's tokens. */
    responseTokenCount?: Count
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

  result(
    provider: string,
    usage: Omit<ExtractedUsage, 'usage_reported' | 'cache_write_1h_tokens'> &
      Partial<Pick<ExtractedUsage, 'cache_write_1h_tokens'>>,
    model: unknown,
    stop: unknown,
    reported: boolean,
    tier?: unknown,
  ): ExtractedUsage {
    if (this.issues.length > 0) throw new ValidationError(this.issues, `invalid ${provider} usage`)
    const out: ExtractedUsage = reported
      ? { cache_write_1h_tokens: 0, ...usage, usage_reported: true }
      : {
          input_tokens: 0,
          output_tokens: 0,
          cache_read_tokens: 0,
          cache_write_tokens: 0,
          cache_write_1h_tokens: 0,
          reasoning_tokens: 0,
          usage_reported: false,
        }
    if (typeof model === 'string' && model.length > 0) out.response_model = model
    if (typeof stop === 'string' && stop.length > 0) out.stop_reason = stop
    if (typeof tier === 'string' && tier.length > 0) out.service_tier = tier
    return out
  }
}

/**
 * OpenAI Chat Completions (`prompt_tokens`, `completion_tokens`) or Responses API
 * (`input_tokens`, `output_tokens`). Both count cached input (read or written) inside the
 * input total and reasoning inside the output total, as the contract does. A response without
 * `usage` (a stream without `include_usage`) is reported as such, not as zero tokens.
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
  const writtenPath = `usage.${inDetails}.cache_write_tokens`
  const cached = c.read(u[inDetails]?.cached_tokens, cachedPath)
  const written = c.read(u[inDetails]?.cache_write_tokens, writtenPath)
  const reasoning = c.read(u[outDetails]?.reasoning_tokens, reasoningPath)
  c.notAbove(cached + written, `${cachedPath} + cache_write_tokens`, input, `usage.${inName}`)
  c.notAbove(reasoning, reasoningPath, output, `usage.${outName}`)

  const stop =
    response.choices?.[0]?.finish_reason ?? response.incomplete_details?.reason ?? response.status
  return c.result(
    'OpenAI',
    {
      input_tokens: input,
      output_tokens: output,
      cache_read_tokens: cached,
      cache_write_tokens: written,
      reasoning_tokens: reasoning,
    },
    response.model,
    stop,
    response.usage != null,
    response.service_tier,
  )
}

/**
 * Anthropic Messages: `input_tokens` there EXCLUDES cache reads and cache writes, so the
 * contract's input total adds them back. Cache writes are split by lifetime in
 * `cache_creation` (1-hour writes bill at 2x input, 5-minute ones at 1.25x); extended thinking
 * is part of `output_tokens`, reported apart in `output_tokens_details.thinking_tokens`.
 */
export function usageFromAnthropic(response: AnthropicResponseLike): ExtractedUsage {
  const c = new Counter()
  const u = response.usage ?? {}
  const uncached = c.read(u.input_tokens, 'usage.input_tokens')
  const output = c.read(u.output_tokens, 'usage.output_tokens')
  const cacheRead = c.read(u.cache_read_input_tokens, 'usage.cache_read_input_tokens')
  const fiveMinutes = c.read(
    u.cache_creation?.ephemeral_5m_input_tokens,
    'usage.cache_creation.ephemeral_5m_input_tokens',
  )
  const oneHour = c.read(
    u.cache_creation?.ephemeral_1h_input_tokens,
    'usage.cache_creation.ephemeral_1h_input_tokens',
  )
  // The total, or the sum of its parts when only the parts are given.
  const cacheWrite =
    u.cache_creation_input_tokens != null
      ? c.read(u.cache_creation_input_tokens, 'usage.cache_creation_input_tokens')
      : fiveMinutes + oneHour
  c.notAbove(
    oneHour,
    'usage.cache_creation.ephemeral_1h_input_tokens',
    cacheWrite,
    'usage.cache_creation_input_tokens',
  )
  const thinking = c.read(
    u.output_tokens_details?.thinking_tokens,
    'usage.output_tokens_details.thinking_tokens',
  )
  c.notAbove(thinking, 'usage.output_tokens_details.thinking_tokens', output, 'usage.output_tokens')
  return c.result(
    'Anthropic',
    {
      input_tokens: uncached + cacheRead + cacheWrite,
      output_tokens: output,
      cache_read_tokens: cacheRead,
      cache_write_tokens: cacheWrite,
      cache_write_1h_tokens: oneHour,
      reasoning_tokens: thinking,
    },
    response.model,
    response.stop_reason,
    response.usage != null,
    u.service_tier,
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
  // The Live API names the response's tokens responseTokenCount.
  const candidates =
    u.candidatesTokenCount != null
      ? c.read(u.candidatesTokenCount, 'usageMetadata.candidatesTokenCount')
      : c.read(u.responseTokenCount, 'usageMetadata.responseTokenCount')
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
    response.usageMetadata != null,
  )
}
