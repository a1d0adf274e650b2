/**
 * The Node SDK (`@spendguard/sdk`): the emitter and its HTTP transport, provider usage
 * extractors, and the guard. Nothing here loads kafkajs or avsc; the Kafka transport is the
 * separate entry `@spendguard/sdk/kafka` (producers/kafka.ts).
 */
export {
  createEmitter,
  PartialSendError,
  type Emitter,
  type EmitterLogger,
  type EmitterOptions,
  type EmitterStats,
  type EmitterTransport,
  type Timers,
} from './emitter.ts'
export {
  createHttpTransport,
  HttpIngestRejectedError,
  HttpSendError,
  parseRetryAfter,
  type HttpTransportOptions,
  type RejectedItem,
} from './http-transport.ts'
export {
  usageFromAnthropic,
  usageFromGoogle,
  usageFromOpenAI,
  type AnthropicResponseLike,
  type ExtractedUsage,
  type GoogleResponseLike,
  type OpenAIResponseLike,
} from './usage-extractors.ts'
export {
  anthropicStreamUsage,
  googleStreamUsage,
  openAIStreamUsage,
  type AnthropicStreamEvent,
  type OpenAIStreamEvent,
  type StreamUsage,
} from './stream-usage.ts'
export {
  canonicalBytes,
  controlCommandSchema,
  createVerifier,
  type ControlCommand,
  type TrustedKey,
} from './guard/control-command.ts'
export {
  GuardState,
  type CallContext,
  type GuardCounters,
  type GuardDecision,
} from './guard/guard-state.ts'
export {
  createGuard,
  type Guard,
  type GuardOptions,
  type GuardPrices,
  type PreCallEstimate,
} from './guard/guard.ts'
export {
  sseControlSource,
  type ControlSource,
  type ControlSourceHandlers,
  type SseSourceOptions,
} from './guard/control-source.ts'
export {
  BufferFullError,
  ConfigError,
  isRetriable,
  SpendGuardError,
  ValidationError,
  type FieldIssue,
} from '../platform/errors.ts'
export type { Clock } from '../platform/clock.ts'
export type { LlmCall, LlmCallInput } from '../schemas/llm-call.ts'
