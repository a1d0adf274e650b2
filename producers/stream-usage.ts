import {
  usageFromAnthropic,
  usageFromGoogle,
  usageFromOpenAI,
  type AnthropicResponseLike,
  type ExtractedUsage,
  type GoogleResponseLike,
  type OpenAIResponseLike,
} from './usage-extractors.ts'

/**
 * Usage of a streamed call, accumulated from the provider's stream events as they pass:
 * `add(event)` for each event, `usage()` once the stream ends. A stream that never carried
 * usage gives `usage_reported: false`, never zero tokens.
 */
export interface StreamUsage<Event> {
  add(event: Event): void
  usage(): ExtractedUsage
}

type AnthropicUsage = NonNullable<AnthropicResponseLike['usage']>

/** The Anthropic Messages stream events that carry usage, the model and the stop reason. */
export type AnthropicStreamEvent =
  | { type: 'message_start'; message: AnthropicResponseLike }
  | {
      type: 'message_delta'
      delta?: { stop_reason?: string | null } | null
      usage?: Partial<AnthropicUsage> | null
    }
  | { type: string }

/**
 * Anthropic: `message_start` carries the input side (uncached input, cache reads and writes)
 * and the model; `message_delta` carries the stop reason and cumulative counts, at least
 * `output_tokens`. Counts in a later event replace earlier ones.
 */
export function anthropicStreamUsage(): StreamUsage<AnthropicStreamEvent> {
  let model: string | null | undefined
  let stop: string | null | undefined
  let usage: AnthropicUsage | undefined
  const merge = (next: Partial<AnthropicUsage> | null | undefined) => {
    if (!next) return
    usage ??= {}
    for (const [key, value] of Object.entries(next)) {
      if (value !== null && value !== undefined) (usage as Record<string, unknown>)[key] = value
    }
  }
  return {
    add(event) {
      if (event.type === 'message_start' && 'message' in event) {
        model = event.message.model
        stop = event.message.stop_reason ?? stop
        merge(event.message.usage)
      } else if (event.type === 'message_delta' && ('delta' in event || 'usage' in event)) {
        const delta = event
        stop = delta.delta?.stop_reason ?? stop
        merge(delta.usage)
      }
    },
    usage: () => usageFromAnthropic({ model, stop_reason: stop, usage: usage ?? null }),
  }
}

/** An OpenAI stream event: a Chat Completions chunk, or a Responses API event. */
export type OpenAIStreamEvent =
  (OpenAIResponseLike & { object?: string }) | { type: string; response?: OpenAIResponseLike }

/**
 * OpenAI: Chat Completions chunks carry the finish reason on the last choice chunk and the
 * usage on a final chunk with no choices (only with `stream_options.include_usage`); the
 * Responses API's `response.completed` (or `.incomplete`, `.failed`) event carries the whole
 * response.
 */
export function openAIStreamUsage(): StreamUsage<OpenAIStreamEvent> {
  let model: string | null | undefined
  let finish: string | null | undefined
  let tier: string | null | undefined
  let usage: OpenAIResponseLike['usage']
  let final: OpenAIResponseLike | undefined
  return {
    add(event) {
      if ('type' in event && typeof event.type === 'string' && event.type.startsWith('response.')) {
        if (event.response && /^response\.(completed|incomplete|failed)$/.test(event.type))
          final = event.response
        return
      }
      const chunk = event as OpenAIResponseLike
      model = chunk.model ?? model
      tier = chunk.service_tier ?? tier
      finish = chunk.choices?.find((choice) => choice.finish_reason)?.finish_reason ?? finish
      if (chunk.usage) usage = chunk.usage
    },
    usage: () =>
      usageFromOpenAI(
        final ?? {
          model,
          service_tier: tier,
          choices: finish ? [{ finish_reason: finish }] : [],
          usage: usage ?? null,
        },
      ),
  }
}

/**
 * Google Gemini: every streamed chunk may carry `usageMetadata` with the counts so far; the
 * last one is the call's. The finish reason comes on the last candidate chunk. Live API
 * messages carry the same `usageMetadata` (with `responseTokenCount`).
 */
export function googleStreamUsage(): StreamUsage<GoogleResponseLike> {
  let model: string | null | undefined
  let finish: string | null | undefined
  let metadata: GoogleResponseLike['usageMetadata']
  return {
    add(chunk) {
      model = chunk.modelVersion ?? model
      finish = chunk.candidates?.find((c) => c.finishReason)?.finishReason ?? finish
      if (chunk.usageMetadata) metadata = chunk.usageMetadata
    },
    usage: () =>
      usageFromGoogle({
        modelVersion: model,
        candidates: finish ? [{ finishReason: finish }] : [],
        usageMetadata: metadata ?? null,
      }),
  }
}
