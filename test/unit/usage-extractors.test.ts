import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../platform/errors.ts'
import {
  usageFromAnthropic,
  usageFromGoogle,
  usageFromOpenAI,
  type ExtractedUsage,
} from '../../producers/usage-extractors.ts'
import { parseLlmCall } from '../../schemas/validate.ts'
import { makeLlmCallInput } from '../support/make-llm-call.ts'

/** The extracted usage must make a valid event, unchanged by validation. */
function expectValidEvent(usage: ExtractedUsage, provider: string, model: string) {
  const event = parseLlmCall(makeLlmCallInput({ provider, model, ...usage }))
  expect(event).toMatchObject(usage)
}

function validationIssues(run: () => unknown) {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError)
    return (error as ValidationError).issues.map((issue) => issue.path)
  }
  throw new Error('expected a ValidationError')
}

describe('usageFromOpenAI', () => {
  const chatCompletion = {
    id: 'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG',
    object: 'chat.completion',
    created: 1741569952,
    model: 'o3-2025-04-16',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'The ticket is a billing question.' },
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: 2006,
      completion_tokens: 300,
      total_tokens: 2306,
      prompt_tokens_details: { cached_tokens: 1920, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 192,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
  }

  it('reads Chat Completions usage: cached is part of prompt, reasoning part of completion', () => {
    const usage = usageFromOpenAI(chatCompletion)
    expect(usage).toEqual({
      input_tokens: 2006,
      output_tokens: 300,
      cache_read_tokens: 1920,
      cache_write_tokens: 0,
      reasoning_tokens: 192,
      cache_write_1h_tokens: 0,
      usage_reported: true,
      response_model: 'o3-2025-04-16',
      stop_reason: 'stop',
    })
    expectValidEvent(usage, 'openai', 'o3')
  })

  it('reads Responses API usage and its incomplete reason', () => {
    const response = {
      id: 'resp_67ccd2bed1ec8190b14f964abc054267',
      object: 'response',
      created_at: 1741476542,
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
      model: 'gpt-4.1-2025-04-14',
      output: [],
      usage: {
        input_tokens: 1500,
        input_tokens_details: { cached_tokens: 1024 },
        output_tokens: 800,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 2300,
      },
    }
    const usage = usageFromOpenAI(response)
    expect(usage).toMatchObject({
      input_tokens: 1500,
      output_tokens: 800,
      cache_read_tokens: 1024,
      reasoning_tokens: 0,
      response_model: 'gpt-4.1-2025-04-14',
      stop_reason: 'max_output_tokens',
    })
    expectValidEvent(usage, 'openai', 'gpt-4.1')
    expect(
      usageFromOpenAI({ ...response, status: 'completed', incomplete_details: null }),
    ).toHaveProperty('stop_reason', 'completed')
  })

  it('reports a response without usage (a stream without include_usage) as such, not as zero', () => {
    const usage = usageFromOpenAI({ model: 'gpt-4o-mini', choices: [{ finish_reason: 'stop' }] })
    expect(usage).toMatchObject({ usage_reported: false, input_tokens: 0, output_tokens: 0 })
    expectValidEvent(usage, 'openai', 'gpt-4o-mini')
  })

  it('throws naming the provider field for negative, fractional or inconsistent counts', () => {
    const bad = { ...chatCompletion.usage, prompt_tokens: -1, completion_tokens: 2.5 }
    expect(validationIssues(() => usageFromOpenAI({ usage: bad }))).toEqual(
      expect.arrayContaining(['usage.prompt_tokens', 'usage.completion_tokens']),
    )
    const cachedTooMany = { ...chatCompletion.usage, prompt_tokens: 100 }
    expect(validationIssues(() => usageFromOpenAI({ usage: cachedTooMany }))).toEqual([
      'usage.prompt_tokens_details.cached_tokens + cache_write_tokens',
    ])
  })
})

describe('usageFromAnthropic', () => {
  const message = {
    id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-20250514',
    content: [{ type: 'text', text: 'Routing this to billing.' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: 150,
      cache_creation_input_tokens: 2048,
      cache_read_input_tokens: 10_240,
      output_tokens: 420,
      service_tier: 'standard',
    },
  }

  it('adds cache reads and writes back into the input total', () => {
    const usage = usageFromAnthropic(message)
    expect(usage).toEqual({
      input_tokens: 150 + 2048 + 10_240,
      output_tokens: 420,
      cache_read_tokens: 10_240,
      cache_write_tokens: 2048,
      reasoning_tokens: 0,
      cache_write_1h_tokens: 0,
      usage_reported: true,
      service_tier: 'standard',
      response_model: 'claude-sonnet-4-20250514',
      stop_reason: 'end_turn',
    })
    expectValidEvent(usage, 'anthropic', 'claude-sonnet-4')
  })

  it('counts absent cache fields as 0', () => {
    const usage = usageFromAnthropic({ ...message, usage: { input_tokens: 12, output_tokens: 3 } })
    expect(usage).toMatchObject({ input_tokens: 12, cache_read_tokens: 0, cache_write_tokens: 0 })
    expectValidEvent(usage, 'anthropic', 'claude-sonnet-4')
  })

  it('throws naming the provider field for a negative count', () => {
    const bad = { ...message.usage, cache_read_input_tokens: -10 }
    expect(validationIssues(() => usageFromAnthropic({ usage: bad }))).toEqual([
      'usage.cache_read_input_tokens',
    ])
  })
})

describe('usageFromGoogle', () => {
  const generateContent = {
    candidates: [
      {
        content: { role: 'model', parts: [{ text: 'Category: billing' }] },
        finishReason: 'STOP',
        index: 0,
      },
    ],
    usageMetadata: {
      promptTokenCount: 5200,
      cachedContentTokenCount: 4096,
      candidatesTokenCount: 310,
      thoughtsTokenCount: 1150,
      totalTokenCount: 6660,
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: 5200 }],
    },
    modelVersion: 'gemini-2.5-pro',
    responseId: 'mAitaLmkHPPlz7IPvtfUqQ4',
  }

  it('adds thoughts to the output; cached content is already part of the prompt', () => {
    const usage = usageFromGoogle(generateContent)
    expect(usage).toEqual({
      input_tokens: 5200,
      output_tokens: 310 + 1150,
      cache_read_tokens: 4096,
      cache_write_tokens: 0,
      reasoning_tokens: 1150,
      cache_write_1h_tokens: 0,
      usage_reported: true,
      response_model: 'gemini-2.5-pro',
      stop_reason: 'STOP',
    })
    expectValidEvent(usage, 'google', 'gemini-2.5-pro')
  })

  it('counts tool-use prompt tokens as input and absent fields as 0', () => {
    const usage = usageFromGoogle({
      modelVersion: 'gemini-2.5-flash',
      usageMetadata: {
        promptTokenCount: 40,
        toolUsePromptTokenCount: 900,
        candidatesTokenCount: 60,
      },
    })
    expect(usage).toMatchObject({
      input_tokens: 940,
      output_tokens: 60,
      cache_read_tokens: 0,
      reasoning_tokens: 0,
    })
    expectValidEvent(usage, 'google', 'gemini-2.5-flash')
  })

  it('throws naming the provider field for a fractional count', () => {
    const bad = { ...generateContent.usageMetadata, thoughtsTokenCount: 11.5 }
    expect(validationIssues(() => usageFromGoogle({ usageMetadata: bad }))).toEqual([
      'usageMetadata.thoughtsTokenCount',
    ])
  })
})
