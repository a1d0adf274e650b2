import type { BodyItem } from './ingest-request.ts'

/**
 * The LLM-call spans of an OTLP/HTTP JSON export (`ExportTraceServiceRequest`), each an item to
 * validate as an `llm_call` event.
 */
export function spanItems(body: string): BodyItem[] {
  void body
  return [{ error: 'OTLP traces are not read yet' }]
}
