// agent.mjs in CommonJS, reduced to the calls: guard, (fake) LLM call, emit.
//
//   node agent.cjs [agent-name]     (same environment variables as agent.mjs)

// The repository's lint config is for ES modules; this file is CommonJS on purpose.
/* global require */
/* eslint-disable @typescript-eslint/no-require-imports */
const { randomUUID } = require('node:crypto')
const { readFileSync } = require('node:fs')
const process = require('node:process')
const { setTimeout: delay } = require('node:timers/promises')
const {
  createEmitter,
  createGuard,
  createHttpTransport,
  usageFromOpenAI,
} = require('@spendguard/sdk')

const url = process.env.SPENDGUARD_URL ?? 'http://127.0.0.1:8787'
const publicKeyFile = process.env.SPENDGUARD_PUBLIC_KEY ?? './data/control-signing-key.pem.pub'
const agent = process.argv[2] ?? process.env.SPENDGUARD_AGENT ?? 'quickstart-agent'

/** @type {import('@spendguard/sdk').EmitterLogger} */
const logger = {
  child: () => logger,
  warn: (fields, message) => process.stderr.write(`${message} ${JSON.stringify(fields)}\n`),
  error: (fields, message) => process.stderr.write(`${message} ${JSON.stringify(fields)}\n`),
}

async function main() {
  const emitter = createEmitter({ transport: createHttpTransport({ url }), logger })
  const guard = createGuard({
    url,
    trustedKeys: [{ id: 'spendguard-1', publicKey: readFileSync(publicKeyFile, 'utf8') }],
    failMode: 'open',
  })
  await Promise.race([guard.ready, delay(5000, undefined, { ref: false })])

  const decision = guard.check({ agent, model: 'gpt-4o-mini' })
  if (decision.action === 'allow') {
    // What an OpenAI Chat Completions response carries, as the SDK reads it.
    const response = {
      model: 'gpt-4o-mini-2024-07-18',
      choices: [{ finish_reason: 'stop' }],
      usage: { prompt_tokens: 800, completion_tokens: 120 },
    }
    emitter.emit({
      event_id: randomUUID(),
      occurred_at: new Date().toISOString(),
      agent_id: agent,
      provider: 'openai',
      model: 'gpt-4o-mini',
      status: 'ok',
      ...usageFromOpenAI(response),
    })
  }
  await emitter.close()
  await guard.close()
  const { sent, failed } = emitter.stats()
  process.stdout.write(`${JSON.stringify({ agent, action: decision.action, sent, failed })}\n`)
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`)
  process.exitCode = 1
})
