import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { spanEventId } from '../../api/otlp-traces.ts'
import { runCli, startCli } from '../support/cli-process.ts'
import { freePort } from '../support/free-port.ts'
import { chatRequestExport, newSpanId, newTraceId } from '../support/otlp-export.ts'

const work = mkdtempSync(join(tmpdir(), 'spendguard-otlp-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('OTLP/HTTP JSON traces into the embedded pipeline (chDB)', () => {
  it('audits GenAI chat spans with their tokens and exact cost; a resent span is a duplicate', async () => {
    const dataDir = join(work, 'data')
    const port = await freePort()
    const running = await startCli(['start', '--port', String(port), '--data-dir', dataDir])
    const traces = (body: string | Buffer, headers: Record<string, string> = {}) =>
      fetch(`http://127.0.0.1:${port}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      })
    const endMs = Date.now() - 60_000

    // An OpenAI chat call with a cache hit, exported gzip-compressed as SDK exporters do:
    // 1,000 uncached input at $2.50/M, 200 cached at $1.25/M, 300 output at $10/M.
    const openai = { traceId: newTraceId(), spanId: newSpanId() }
    const gzipped = gzipSync(JSON.stringify(chatRequestExport(endMs, { chat: openai })))
    const first = await traces(gzipped, { 'content-encoding': 'gzip' })
    expect(first.status).toBe(200)
    expect(await first.json()).toMatchObject({
      accepted: 1,
      rejected: 0,
      duplicates: 0,
      skipped: 1,
    })

    // An Anthropic call through an agent framework, attributed by span and resource attributes:
    // 500 uncached input at $3/M, 2,000 cache reads at $0.30/M, 500 cache writes at $3.75/M,
    // 400 output at $15/M.
    const anthropic = { traceId: newTraceId(), spanId: newSpanId() }
    const framework = chatRequestExport(endMs, {
      resource: { 'service.name': 'research-service', 'spendguard.team_id': 'research' },
      chat: {
        ...anthropic,
        attributes: {
          'gen_ai.provider.name': 'anthropic',
          'gen_ai.request.model': 'claude-sonnet-4-20250514',
          'gen_ai.response.model': 'claude-sonnet-4-20250514',
          'gen_ai.agent.name': 'literature-review',
          'gen_ai.conversation.id': 'conv-77',
          'gen_ai.usage.input_tokens': 3000,
          'gen_ai.usage.cache_read.input_tokens': 2000,
          'gen_ai.usage.cache_creation.input_tokens': 500,
          'gen_ai.usage.output_tokens': 400,
          'server.address': 'api.anthropic.com',
        },
      },
    })
    const second = await traces(JSON.stringify(framework))
    expect(second.status).toBe(200)
    expect(await second.json()).toMatchObject({ accepted: 1 })

    // The exporter retries the first batch: the span is the same event.
    const resent = await traces(gzipped, { 'content-encoding': 'gzip' })
    expect(resent.status).toBe(200)
    expect(await resent.json()).toEqual({
      accepted: 0,
      rejected: 0,
      duplicates: 1,
      skipped: 1,
      results: [
        { index: 0, event_id: spanEventId(openai.traceId, openai.spanId), status: 'duplicate' },
      ],
    })

    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)

    const rows = await runCli([
      'sql',
      `SELECT span_id, agent_id, team_id, session_id, provider, model, response_model,
              input_tokens, cache_read_tokens, cache_write_tokens, output_tokens,
              toString(cost_usd) AS usd, price_status
       FROM llm_calls ORDER BY agent_id FORMAT JSONEachRow`,
      '--data-dir',
      dataDir,
    ])
    expect(rows.stderr).toBe('')
    const audited = rows.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(audited).toEqual([
      {
        span_id: anthropic.spanId,
        agent_id: 'literature-review',
        team_id: 'research',
        session_id: 'conv-77',
        provider: 'anthropic',
        model: 'claude-sonnet-4-20250514',
        response_model: 'claude-sonnet-4-20250514',
        input_tokens: '3000',
        cache_read_tokens: '2000',
        cache_write_tokens: '500',
        output_tokens: '400',
        usd: '0.009975',
        price_status: 'priced',
      },
      {
        span_id: openai.spanId,
        agent_id: 'support-bot',
        team_id: null,
        session_id: null,
        provider: 'openai',
        model: 'gpt-4o',
        response_model: 'gpt-4o-2024-08-06',
        input_tokens: '1200',
        cache_read_tokens: '200',
        cache_write_tokens: '0',
        output_tokens: '300',
        usd: '0.00575',
        price_status: 'priced',
      },
    ])
  })
})
