/**
 * Model ids as real services send them (bare, dated, provider-prefixed, Azure, Bedrock,
 * Vertex, OpenRouter, gateways), each with the price per 1M input and output tokens its
 * provider publishes. Expected costs are computed from these figures by the tests, not by the
 * code under test. Where a provider bills by time of day or has changed its price, the case
 * names the time.
 */
export type Case = {
  model: string
  provider?: string
  /** USD per 1M tokens as the provider publishes it. */
  input: string
  output: string
  at?: string
}

const c = (model: string, input: string, output: string, extra: Partial<Case> = {}): Case => ({
  model,
  input,
  output,
  ...extra,
})

const OPENAI: Case[] = [
  c('gpt-4o', '2.50', '10'),
  c('gpt-4o-2024-08-06', '2.50', '10'),
  c('gpt-4o-2024-11-20', '2.50', '10'),
  c('gpt-4o-2024-05-13', '5', '15'),
  c('chatgpt-4o-latest', '5', '15'),
  c('gpt-4o-mini', '0.15', '0.60'),
  c('gpt-4o-mini-2024-07-18', '0.15', '0.60'),
  c('gpt-4.1', '2', '8'),
  c('gpt-4.1-2025-04-14', '2', '8'),
  c('gpt-4.1-mini', '0.40', '1.60'),
  c('gpt-4.1-mini-2025-04-14', '0.40', '1.60'),
  c('gpt-4.1-nano', '0.10', '0.40'),
  c('gpt-4.1-nano-2025-04-14', '0.10', '0.40'),
  c('gpt-4.5-preview', '75', '150'),
  c('gpt-5', '1.25', '10'),
  c('gpt-5-2025-08-07', '1.25', '10'),
  c('gpt-5-mini', '0.25', '2'),
  c('gpt-5-mini-2025-08-07', '0.25', '2'),
  c('gpt-5-nano', '0.05', '0.40'),
  c('gpt-5-nano-2025-08-07', '0.05', '0.40'),
  c('o1', '15', '60'),
  c('o1-2024-12-17', '15', '60'),
  c('o1-pro', '150', '600'),
  c('o1-mini', '1.10', '4.40'),
  c('o3', '2', '8', { at: '2025-07-01T00:00:00Z' }),
  c('o3', '10', '40', { at: '2025-05-01T00:00:00Z' }),
  c('o3-2025-04-16', '2', '8', { at: '2025-08-01T00:00:00Z' }),
  c('o3-pro', '20', '80'),
  c('o3-mini', '1.10', '4.40'),
  c('o3-mini-2025-01-31', '1.10', '4.40'),
  c('o4-mini', '1.10', '4.40'),
  c('o4-mini-2025-04-16', '1.10', '4.40'),
  c('gpt-4-turbo', '10', '30'),
  c('gpt-4-turbo-2024-04-09', '10', '30'),
  c('gpt-4', '30', '60'),
  c('gpt-4-0613', '30', '60'),
  c('gpt-4-32k', '60', '120'),
  c('gpt-3.5-turbo', '0.50', '1.50'),
  c('gpt-3.5-turbo-0125', '0.50', '1.50'),
  c('gpt-3.5-turbo-16k', '3', '4'),
  c('gpt-3.5-turbo-instruct', '1.50', '2'),
  c('gpt-4o-realtime-preview', '5', '20'),
  c('gpt-4o-audio-preview', '2.50', '10'),
  c('gpt-5-chat-latest', '1.25', '10'),
  c('o1-preview', '15', '60'),
  c('gpt-4-1106-preview', '10', '30'),
  // Gateways and SDKs that prefix the provider.
  c('openai/gpt-4o', '2.50', '10'),
  c('openai/gpt-4.1-mini', '0.40', '1.60'),
  c('openai/o4-mini', '1.10', '4.40'),
  c('gpt-4o-mini', '0.15', '0.60', { provider: 'openai' }),
  c('gpt-5', '1.25', '10', { provider: 'OpenAI' }),
  // Azure OpenAI bills the OpenAI list price.
  c('azure/gpt-4o', '2.50', '10'),
  c('azure/gpt-4o-mini', '0.15', '0.60'),
  c('gpt-4.1', '2', '8', { provider: 'azure' }),
  c('gpt-4o', '2.50', '10', { provider: 'azure' }),
  c('o3-mini', '1.10', '4.40', { provider: 'azure' }),
]

const ANTHROPIC: Case[] = [
  c('claude-3-haiku-20240307', '0.25', '1.25'),
  c('claude-3-5-haiku-20241022', '0.80', '4'),
  c('claude-3-5-haiku-latest', '0.80', '4'),
  c('claude-3-5-sonnet-20240620', '3', '15'),
  c('claude-3-5-sonnet-20241022', '3', '15'),
  c('claude-3-5-sonnet-latest', '3', '15'),
  c('claude-3-7-sonnet-20250219', '3', '15'),
  c('claude-3-7-sonnet-latest', '3', '15'),
  c('claude-3-opus-20240229', '15', '75'),
  c('claude-3-opus-latest', '15', '75'),
  c('claude-2.1', '8', '24'),
  c('claude-sonnet-4-20250514', '3', '15'),
  c('claude-sonnet-4-0', '3', '15'),
  c('claude-sonnet-4', '3', '15'),
  c('claude-opus-4-20250514', '15', '75'),
  c('claude-opus-4-0', '15', '75'),
  c('claude-opus-4-1-20250805', '15', '75'),
  c('claude-opus-4-1', '15', '75'),
  c('claude-sonnet-4-5-20250929', '3', '15'),
  c('claude-sonnet-4-5', '3', '15'),
  c('claude-haiku-4-5-20251001', '1', '5'),
  c('claude-haiku-4-5', '1', '5'),
  c('claude-opus-4-5-20251101', '5', '25'),
  c('claude-opus-4-5', '5', '25'),
  c('anthropic/claude-3-5-sonnet-20241022', '3', '15'),
  c('anthropic/claude-sonnet-4-20250514', '3', '15'),
  c('claude-3-7-sonnet-20250219', '3', '15', { provider: 'anthropic' }),
  c('claude-haiku-4-5', '1', '5', { provider: 'Anthropic' }),
  // Bedrock ids, with and without a geography and a gateway prefix.
  c('anthropic.claude-3-haiku-20240307-v1:0', '0.25', '1.25'),
  c('anthropic.claude-3-5-sonnet-20240620-v1:0', '3', '15'),
  c('us.anthropic.claude-3-5-sonnet-20241022-v2:0', '3', '15'),
  c('us.anthropic.claude-3-7-sonnet-20250219-v1:0', '3', '15'),
  c('us.anthropic.claude-sonnet-4-20250514-v1:0', '3', '15'),
  c('eu.anthropic.claude-3-7-sonnet-20250219-v1:0', '3', '15'),
  c('us.anthropic.claude-opus-4-20250514-v1:0', '15', '75'),
  c('bedrock/anthropic.claude-3-haiku-20240307-v1:0', '0.25', '1.25'),
  c('bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0', '0.80', '4'),
  c('anthropic.claude-3-5-sonnet-20240620-v1:0', '3', '15', { provider: 'bedrock' }),
  // Vertex AI's `@` versions.
  c('claude-sonnet-4@20250514', '3', '15', { provider: 'vertex_ai' }),
  c('claude-opus-4@20250514', '15', '75', { provider: 'vertex_ai' }),
  c('claude-3-5-sonnet-v2@20241022', '3', '15', { provider: 'google' }),
  c('claude-3-7-sonnet@20250219', '3', '15', { provider: 'vertex_ai' }),
  c('vertex_ai/claude-sonnet-4@20250514', '3', '15'),
  c('claude-3-5-haiku@20241022', '0.80', '4', { provider: 'vertex_ai' }),
]

const GOOGLE: Case[] = [
  c('gemini-2.5-pro', '1.25', '10'),
  c('gemini-2.5-flash', '0.30', '2.50'),
  c('gemini-2.5-flash-lite', '0.10', '0.40'),
  c('gemini-2.0-flash', '0.10', '0.40'),
  c('gemini-2.0-flash-001', '0.10', '0.40'),
  c('gemini-2.0-flash-lite', '0.075', '0.30'),
  c('gemini-2.0-flash-lite-001', '0.075', '0.30'),
  c('gemini-1.5-pro', '1.25', '5'),
  c('gemini-1.5-flash', '0.075', '0.30'),
  c('gemini-1.5-flash-8b', '0.0375', '0.15'),
  c('gemini/gemini-2.5-pro', '1.25', '10'),
  c('gemini/gemini-2.5-flash', '0.30', '2.50'),
  c('vertex_ai/gemini-2.5-pro', '1.25', '10'),
  c('vertex_ai/gemini-2.0-flash', '0.10', '0.40'),
  c('models/gemini-2.5-flash', '0.30', '2.50'),
  c('gemini-2.5-pro', '1.25', '10', { provider: 'google' }),
  c('gemini-2.5-flash', '0.30', '2.50', { provider: 'vertex_ai' }),
  c('gemini-2.0-flash', '0.10', '0.40', { provider: 'gemini' }),
]

const OTHERS: Case[] = [
  // Hosted open-weight models, from the host that bills them.
  c('groq/llama-3.3-70b-versatile', '0.59', '0.79'),
  c('llama-3.3-70b-versatile', '0.59', '0.79', { provider: 'groq' }),
  c('groq/llama-3.1-8b-instant', '0.05', '0.08'),
  c('llama-3.1-8b-instant', '0.05', '0.08', { provider: 'groq' }),
  c('together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo', '0.88', '0.88'),
  c('meta-llama/Llama-3.3-70B-Instruct-Turbo', '0.88', '0.88', { provider: 'together' }),
  c('mistral/mistral-large-latest', '2', '6'),
  c('mistral-large-latest', '2', '6', { provider: 'mistral' }),
  c('mistral-large-2411', '2', '6', { provider: 'mistral' }),
  c('codestral-latest', '0.30', '0.90', { provider: 'mistral' }),
  c('mistral/codestral-2501', '0.30', '0.90'),
  c('ministral-8b-latest', '0.10', '0.10', { provider: 'mistral', at: '2025-06-01T00:00:00Z' }),
  c('mistral-small-latest', '0.10', '0.30', { provider: 'mistral' }),
  c('open-mistral-nemo', '0.15', '0.15', { provider: 'mistral' }),
  c('pixtral-large-latest', '2', '6', { provider: 'mistral' }),
  c('grok-2-1212', '2', '10'),
  c('command-r7b-12-2024', '0.0375', '0.15', { provider: 'cohere' }),
  c('grok-3', '3', '15'),
  c('xai/grok-3', '3', '15'),
  c('grok-3-mini', '0.30', '0.50'),
  c('grok-3', '3', '15', { provider: 'xai' }),
  c('command-r-plus', '2.50', '10'),
  c('command-r', '0.15', '0.60'),
  c('command-a-03-2025', '2.50', '10'),
  c('cohere/command-r-plus', '2.50', '10'),
  // DeepSeek billed half price off-peak (16:30-00:30 UTC) until September 2025.
  c('deepseek-chat', '0.27', '1.10', { at: '2025-03-03T10:00:00Z' }),
  c('deepseek-chat', '0.135', '0.55', { at: '2025-03-03T18:00:00Z' }),
  c('deepseek-reasoner', '0.55', '2.19', { at: '2025-03-03T10:00:00Z' }),
  c('deepseek/deepseek-chat', '0.27', '1.10', { at: '2025-03-03T12:00:00Z' }),
  // OpenRouter ids name the vendor; OpenRouter bills the vendor's price.
  c('anthropic/claude-sonnet-4', '3', '15', { provider: 'openrouter' }),
  c('openai/gpt-4o-mini', '0.15', '0.60', { provider: 'openrouter' }),
  c('google/gemini-2.5-flash', '0.30', '2.50', { provider: 'openrouter' }),
  // Self-hosted (configured providers): free.
  c('llama3-8b', '0', '0', { provider: 'ollama' }),
  c('llama3.1:70b', '0', '0', { provider: 'ollama' }),
  c('mistral-7b-instruct', '0', '0', { provider: 'vllm' }),
  c('meta-llama/Llama-3.1-8B-Instruct', '0', '0', { provider: 'vllm' }),
  c('qwen2.5-coder:32b', '0', '0', { provider: 'self-hosted' }),
  c('deepseek-r1:14b', '0', '0', { provider: 'lmstudio' }),
  c('mixtral-8x7b', '0', '0', { provider: 'tgi' }),
]

export const CORPUS = [...OPENAI, ...ANTHROPIC, ...GOOGLE, ...OTHERS]
export const SELF_HOSTED = new Set(['ollama', 'vllm', 'self-hosted', 'lmstudio', 'tgi'])

/** USD per 1M tokens as exact nano-USD per 1M (femto-USD per token). */
export function nanos(usdPerMillion: string): bigint {
  const [whole, fraction = ''] = usdPerMillion.split('.')
  return BigInt(whole!) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0'))
}

/** The exact cost of a corpus case for a call of `input` and `output` tokens, in femto-USD. */
export function expectedFemtos(testCase: Case, input: number, output: number): bigint {
  return BigInt(input) * nanos(testCase.input) + BigInt(output) * nanos(testCase.output)
}
