// agent.mjs in TypeScript: the same guard, call and event, with the SDK's types.
//
//   tsc && node agent.js [agent-name]     (same environment variables as agent.mjs)
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { setTimeout as delay } from 'node:timers/promises'
import {
  createEmitter,
  createGuard,
  createHttpTransport,
  usageFromOpenAI,
  type CallContext,
  type EmitterLogger,
  type GuardDecision,
  type LlmCallInput,
  type OpenAIResponseLike,
} from '@spendguard/sdk'

const url = process.env.SPENDGUARD_URL ?? 'http://127.0.0.1:8787'
const token = process.env.SPENDGUARD_TOKEN
const publicKey = readFileSync(
  process.env.SPENDGUARD_PUBLIC_KEY ?? './data/control-signing-key.pem.pub',
  'utf8',
)
const agent = process.argv[2] ?? process.env.SPENDGUARD_AGENT ?? 'quickstart-agent'

interface ChatRequest {
  model: string
  messages: Array<{ role: 'system' | 'user' | 'assistant'; content: string }>
}

/** Stands in for `openai.chat.completions.create(...)`: the same response shape, no network. */
async function createChatCompletion(request: ChatRequest): Promise<OpenAIResponseLike> {
  await delay(20) // the model thinking
  return {
    model: `${request.model}-2024-07-18`,
    choices: [{ finish_reason: 'stop' }],
    usage: { prompt_tokens: 1200, completion_tokens: 300 },
  }
}

const logger: EmitterLogger = {
  child: () => logger,
  warn: (fields, message) => process.stderr.write(`${message} ${JSON.stringify(fields)}\n`),
  error: (fields, message) => process.stderr.write(`${message} ${JSON.stringify(fields)}\n`),
}
const emitter = createEmitter({ transport: createHttpTransport({ url, token }), logger })
const guard = createGuard({
  url,
  token,
  trustedKeys: [{ id: process.env.SPENDGUARD_KEY_ID ?? 'spendguard-1', publicKey }],
  failMode: 'open',
})
await Promise.race([guard.ready, delay(5000, undefined, { ref: false })])

const call: CallContext = { agent, model: 'gpt-4o-mini' }
const decision: GuardDecision = guard.check(call)
let outcome: Record<string, unknown> = { agent, action: decision.action }
if (decision.action === 'block' || decision.action === 'throttle') {
  outcome = { ...outcome, reason: decision.reason }
} else {
  const model = decision.action === 'downgrade' ? decision.model : call.model!
  const response = await createChatCompletion({
    model,
    messages: [{ role: 'user', content: 'Hi' }],
  })
  const usage = usageFromOpenAI(response)
  const event: LlmCallInput = {
    event_id: randomUUID(),
    occurred_at: new Date().toISOString(),
    agent_id: agent,
    provider: 'openai',
    model,
    status: 'ok',
    ...usage,
  }
  emitter.emit(event)
  outcome = {
    ...outcome,
    model,
    input_tokens: usage.input_tokens,
    output_tokens: usage.output_tokens,
  }
}

// close() flushes: the event has reached SpendGuard when it resolves.
await emitter.close()
await guard.close()
const { sent, failed } = emitter.stats()
process.stdout.write(`${JSON.stringify({ ...outcome, sent, failed })}\n`)
