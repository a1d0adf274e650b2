// A tiny agent service on @spendguard/sdk. Before its LLM call it asks the guard whether the
// call may run (a kill switch or a rule may have stopped this agent); after it, it emits one
// llm_call event with the usage the provider reported, and SpendGuard prices and audits it.
//
//   node agent.mjs [agent-name]
//
// SPENDGUARD_URL         the running `spendguard start` (default http://127.0.0.1:8787)
// SPENDGUARD_PUBLIC_KEY  its control public key (default ./data/control-signing-key.pem.pub)
// SPENDGUARD_KEY_ID      that key's id (default spendguard-1)
// SPENDGUARD_TOKEN       an admin token, when the API has tokens
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import process from 'node:process'
import { setTimeout as delay } from 'node:timers/promises'
import { createEmitter, createGuard, createHttpTransport, usageFromOpenAI } from '@spendguard/sdk'

const url = process.env.SPENDGUARD_URL ?? 'http://127.0.0.1:8787'
const token = process.env.SPENDGUARD_TOKEN
const publicKey = readFileSync(
  process.env.SPENDGUARD_PUBLIC_KEY ?? './data/control-signing-key.pem.pub',
  'utf8',
)
const agent = process.argv[2] ?? process.env.SPENDGUARD_AGENT ?? 'quickstart-agent'

/**
 * Stands in for `openai.chat.completions.create(...)`: the same response shape, no network.
 * @param {{ model: string, messages: Array<{ role: string, content: string }> }} request
 */
async function createChatCompletion(request) {
  await delay(20) // the model thinking
  return {
    id: `chatcmpl-${randomUUID()}`,
    model: `${request.model}-2024-07-18`,
    choices: [{ finish_reason: 'stop', message: { role: 'assistant', content: 'Hello!' } }],
    usage: {
      prompt_tokens: 1200,
      completion_tokens: 300,
      prompt_tokens_details: { cached_tokens: 1024 },
    },
  }
}

/**
 * The emitter logs retries and drops here; a pino logger fits as it is.
 * @type {import('@spendguard/sdk').EmitterLogger}
 */
const logger = {
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
// Wait (a bounded time) until the guard has read the commands already issued; fail-open
// allows calls while SpendGuard is out of reach.
await Promise.race([guard.ready, delay(5000, undefined, { ref: false })])

const call = { agent, model: 'gpt-4o-mini' }
const decision = guard.check(call)
let outcome
if (decision.action === 'block' || decision.action === 'throttle') {
  outcome = { agent, action: decision.action, reason: decision.reason }
} else {
  const model = decision.action === 'downgrade' ? decision.model : call.model
  const started = Date.now()
  const response = await createChatCompletion({
    model,
    messages: [{ role: 'user', content: 'Hi' }],
  })
  const usage = usageFromOpenAI(response)
  emitter.emit({
    event_id: randomUUID(),
    occurred_at: new Date().toISOString(),
    agent_id: agent,
    provider: 'openai',
    model,
    status: 'ok',
    latency_ms: Date.now() - started,
    ...usage,
  })
  outcome = {
    agent,
    action: decision.action,
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
