import { describe, expect, it } from 'vitest'
import {
  anthropicStreamUsage,
  googleStreamUsage,
  openAIStreamUsage,
} from '../../producers/stream-usage.ts'
import {
  usageFromAnthropic,
  usageFromGoogle,
  usageFromOpenAI,
} from '../../producers/usage-extractors.ts'
import { parseLlmCall } from '../../schemas/validate.ts'
import { makeLlmCallInput } from '../support/make-llm-call.ts'
import type { ExtractedUsage } from '../../producers/usage-extractors.ts'

/** Response and event shapes below follow the providers' documented API references. */

function asEvent(usage: ExtractedUsage, provider: string) {
  return parseLlmCall(makeLlmCallInput({ provider, model: usage.response_model ?? 'm', ...usage }))
}

describe('Anthropic usage', () => {
  it('reads 1-hour cache writes apart from 5-minute ones, and thinking as reasoning', () => {
    const usage = usageFromAnthropic({
      model: 'claude-sonnet-4-20250514',
      stop_reason: 'end_turn',
      usage: {
        input_tokens: 50,
        cache_creation_input_tokens: 3000,
        cache_read_input_tokens: 1000,
        cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 2000 },
        output_tokens: 900,
        output_tokens_details: { thinking_tokens: 600 },
      },
    })
    expect(usage).toMatchObject({
      input_tokens: 4050,
      cache_read_tokens: 1000,
      cache_write_tokens: 3000,
      cache_write_1h_tokens: 2000,
      output_tokens: 900,
      reasoning_tokens: 600,
      usage_reported: true,
    })
    expect(asEvent(usage, 'anthropic').cache_write_1h_tokens).toBe(2000)
  })

  it('accumulates a raw stream: message_start for input and model, message_delta for output and stop', () => {
    const stream = anthropicStreamUsage()
    const events = [
      {
        type: 'message_start',
        message: {
          model: 'claude-sonnet-4-20250514',
          stop_reason: null,
          usage: {
            input_tokens: 472,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 12_000,
            output_tokens: 2,
          },
        },
      },
      { type: 'content_block_start', index: 0 },
      { type: 'content_block_delta', index: 0 },
      { type: 'content_block_stop', index: 0 },
      {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: 503 },
      },
      { type: 'message_stop' },
    ]
    for (const event of events) stream.add(event)
    // Reading the final message_delta alone loses the input side and the model.
    expect(usageFromAnthropic({ usage: { output_tokens: 503 } }).input_tokens).toBe(0)
    expect(stream.usage()).toMatchObject({
      input_tokens: 12_472,
      cache_read_tokens: 12_000,
      output_tokens: 503,
      stop_reason: 'end_turn',
      response_model: 'claude-sonnet-4-20250514',
      usage_reported: true,
    })
  })

  it('reports a stream that carried no usage as not reported', () => {
    const stream = anthropicStreamUsage()
    stream.add({ type: 'ping' })
    expect(stream.usage()).toMatchObject({ usage_reported: false, input_tokens: 0 })
  })
})

describe('OpenAI usage', () => {
  it('reads cache writes as part of the prompt', () => {
    const usage = usageFromOpenAI({
      model: 'gpt-5.6-terra',
      usage: {
        prompt_tokens: 10_000,
        completion_tokens: 100,
        prompt_tokens_details: { cached_tokens: 4000, cache_write_tokens: 5000 },
      },
    })
    expect(usage).toMatchObject({
      input_tokens: 10_000,
      cache_read_tokens: 4000,
      cache_write_tokens: 5000,
    })
  })

  it('accumulates Chat Completions chunks: the finish reason, then the usage-only final chunk', () => {
    const stream = openAIStreamUsage()
    stream.add({
      object: 'chat.completion.chunk',
      model: 'gpt-4o-mini-2024-07-18',
      choices: [{}],
      usage: null,
    })
    stream.add({
      object: 'chat.completion.chunk',
      model: 'gpt-4o-mini-2024-07-18',
      choices: [{ finish_reason: 'stop' }],
      usage: null,
    })
    stream.add({
      object: 'chat.completion.chunk',
      model: 'gpt-4o-mini-2024-07-18',
      choices: [],
      usage: {
        prompt_tokens: 1200,
        completion_tokens: 80,
        prompt_tokens_details: { cached_tokens: 1024 },
      },
    })
    expect(stream.usage()).toMatchObject({
      input_tokens: 1200,
      cache_read_tokens: 1024,
      output_tokens: 80,
      stop_reason: 'stop',
      response_model: 'gpt-4o-mini-2024-07-18',
      usage_reported: true,
    })
  })

  it('reads the Responses API completed event, and a stream without include_usage as not reported', () => {
    const responses = openAIStreamUsage()
    responses.add({ type: 'response.output_text.delta' })
    responses.add({
      type: 'response.completed',
      response: {
        model: 'o4-mini-2025-04-16',
        status: 'completed',
        usage: {
          input_tokens: 300,
          output_tokens: 900,
          output_tokens_details: { reasoning_tokens: 768 },
        },
      },
    })
    expect(responses.usage()).toMatchObject({
      input_tokens: 300,
      output_tokens: 900,
      reasoning_tokens: 768,
    })
    const bare = openAIStreamUsage()
    bare.add({ model: 'gpt-4o-mini', choices: [{ finish_reason: 'stop' }] })
    expect(bare.usage()).toMatchObject({ usage_reported: false, stop_reason: 'stop' })
    expect(asEvent(bare.usage(), 'openai').usage_reported).toBe(false)
  })
})

describe('Google usage', () => {
  it('reads the Live API responseTokenCount', () => {
    const usage = usageFromGoogle({
      usageMetadata: { promptTokenCount: 1000, responseTokenCount: 400, totalTokenCount: 1400 },
    })
    expect(usage).toMatchObject({ input_tokens: 1000, output_tokens: 400 })
  })

  it('takes the last chunk of a stream: its usageMetadata holds the totals', () => {
    const stream = googleStreamUsage()
    stream.add({
      modelVersion: 'gemini-2.5-flash',
      candidates: [{}],
      usageMetadata: { promptTokenCount: 900, candidatesTokenCount: 10 },
    })
    stream.add({
      modelVersion: 'gemini-2.5-flash',
      candidates: [{ finishReason: 'STOP' }],
      usageMetadata: { promptTokenCount: 900, candidatesTokenCount: 250, thoughtsTokenCount: 700 },
    })
    expect(stream.usage()).toMatchObject({
      input_tokens: 900,
      output_tokens: 950,
      reasoning_tokens: 700,
      stop_reason: 'STOP',
      response_model: 'gemini-2.5-flash',
    })
  })
})
