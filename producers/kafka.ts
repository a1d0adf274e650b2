/**
 * The SDK's Kafka entry (`@spendguard/sdk/kafka`): events produced straight to the `llm-calls`
 * topic as framed Avro, and a guard's command source on the compacted control topic. It needs
 * avsc; kafkajs only for its types, since the caller creates the producer and the client.
 */
export {
  createKafkaTransport,
  eventKey,
  toSendError,
  type KafkaTransportOptions,
} from './kafka-transport.ts'
export { createEventCodec, type CodecOptions, type EventCodec } from '../schemas/avro-codec.ts'
export {
  createSchemaRegistry,
  type SchemaRegistry,
  type SchemaRegistryOptions,
} from '../schemas/schema-registry.ts'
export { kafkaControlSource, type KafkaControlSourceOptions } from './guard/kafka-control-source.ts'
