/**
 * Model ids as services send them: bare (`gpt-4o`), dated (`claude-sonnet-4-20250514`),
 * provider-prefixed (`groq/llama-3.3-70b-versatile`, `together_ai/meta-llama/...`), Bedrock
 * (`us.anthropic.claude-sonnet-4-20250514-v1:0`), Vertex (`claude-sonnet-4@20250514`),
 * OpenRouter (`anthropic/claude-sonnet-4`). This module splits off what names the provider.
 */

/**
 * Provider names as gateways and SDKs spell them (LiteLLM prefixes, OpenTelemetry
 * `gen_ai.system` values), mapped to the curated data's provider ids.
 */
export const PROVIDER_ALIASES: Readonly<Record<string, string>> = {
  openai: 'openai',
  azure_ai: 'azure',
  azure: 'azure',
  'azure.ai.openai': 'azure',
  anthropic: 'anthropic',
  bedrock: 'aws',
  'aws.bedrock': 'aws',
  aws: 'aws',
  'amazon-bedrock': 'aws',
  vertex_ai: 'google',
  vertex_ai_beta: 'google',
  vertex: 'google',
  'gcp.vertex_ai': 'google',
  'gcp.gemini': 'google',
  gemini: 'google',
  google: 'google',
  'google-vertex': 'google',
  groq: 'groq',
  together_ai: 'together',
  together: 'together',
  togetherai: 'together',
  fireworks_ai: 'fireworks',
  fireworks: 'fireworks',
  mistral: 'mistral',
  mistralai: 'mistral',
  mistral_ai: 'mistral',
  deepseek: 'deepseek',
  xai: 'x-ai',
  'x-ai': 'x-ai',
  x_ai: 'x-ai',
  cohere: 'cohere',
  cohere_chat: 'cohere',
  perplexity: 'perplexity',
  openrouter: 'openrouter',
  cerebras: 'cerebras',
  novita: 'novita',
  moonshot: 'moonshotai',
  moonshotai: 'moonshotai',
  zai: 'zai',
  zhipuai: 'zhipuai',
  huggingface: 'huggingface',
  baseten: 'baseten',
  cloudflare: 'cloudflare',
  'cloudflare-workers-ai': 'cloudflare',
  minimax: 'minimax',
  voyage: 'voyageai',
  voyageai: 'voyageai',
  ovhcloud: 'ovhcloud',
  modal: 'modal',
}

/** The provider a provider name means, lower-cased; unknown names are kept as they are. */
export function canonicalProvider(name: string): string {
  const key = name.trim().toLowerCase()
  return PROVIDER_ALIASES[key] ?? key
}

export interface SplitModelId {
  /** Lower-cased id without a provider prefix. */
  model: string
  /** Provider named by the id's prefix, canonical. */
  prefixProvider?: string
}

/** A Bedrock model id: optional geography, then `vendor.model`, often with `-v1:0`. */
const BEDROCK_ID =
  /^(?:(?:us|eu|apac|us-gov|global|jp|au|ca)\.)?(?:anthropic|amazon|meta|mistral|cohere|ai21|deepseek|writer|qwen|openai|twelvelabs|stability)\.[a-z0-9]/

/** True when the id has Bedrock's shape. */
export function looksLikeBedrock(model: string): boolean {
  return BEDROCK_ID.test(model)
}

/**
 * Splits a known provider prefix off an id: `groq/llama-3.3-70b-versatile` gives provider
 * `groq` and model `llama-3.3-70b-versatile`. A first segment that is not a provider name
 * (`meta-llama/Llama-3.3-70B-Instruct-Turbo`) stays part of the model id.
 */
export function splitModelId(id: string): SplitModelId {
  // The Gemini API names a model as a resource: `models/gemini-2.5-flash`.
  const model = id
    .trim()
    .toLowerCase()
    .replace(/^models\//, '')
  const slash = model.indexOf('/')
  if (slash <= 0) return { model }
  const prefix = model.slice(0, slash)
  const provider = PROVIDER_ALIASES[prefix]
  if (!provider) return { model }
  return { model: model.slice(slash + 1), prefixProvider: provider }
}

const DATED = /-(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=-|:|@|$)/g

/** `claude-3-7-sonnet-20250219` -> `claude-3-7-sonnet-2025-02-19`: some entries list dashed dates. */
export function dashedDates(model: string): string {
  return model.replace(DATED, (_, y: string, m: string, d: string) => `-${y}-${m}-${d}`)
}
