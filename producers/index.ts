/** The Node SDK's producing side: the emitter, its transports, and provider usage extractors. */
export {
  createEmitter,
  PartialSendError,
  type Emitter,
  type EmitterOptions,
  type EmitterStats,
  type EmitterTransport,
  type Timers,
} from './emitter.ts'
export {
  createKafkaTransport,
  eventKey,
  toSendError,
  type KafkaTransportOptions,
} from './kafka-transport.ts'
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
export { createGuard, type Guard, type GuardOptions } from './guard/guard.ts'
