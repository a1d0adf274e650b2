import { randomUUID } from 'node:crypto'
import type { Config } from '../platform/config.ts'
import { systemClock } from '../platform/clock.ts'
import type { Logger } from '../platform/logger.ts'
import { createEmitter } from '../producers/emitter.ts'
import { createHttpTransport } from '../producers/http-transport.ts'
import { createDemoTraffic, seededRandom } from './demo-traffic.ts'
import { createHttpAccess, listenHttp } from './http-listener.ts'
import { createPipeline } from './runtime.ts'
import { nextStopSignal } from './start-command.ts'
import { renderTable } from './text-table.ts'

export interface DemoOptions {
  /** Events per second. */
  rate: number
  /** Seconds to run; 0 runs until Ctrl-C. */
  durationSeconds: number
  seed: number
  print: (text: string) => void
}

/**
 * `spendguard demo`: the pipeline with its HTTP ingest, fed by the SDK emitter over HTTP
 * with realistic traffic for a few agents. Every few seconds it prints spend by agent from
 * the audit store; when it stops, the audit stays in the data directory for `spendguard sql`.
 */
export async function runDemo(config: Config, logger: Logger, options: DemoOptions): Promise<void> {
  const access = createHttpAccess(config, logger)
  const pipeline = await createPipeline(config, logger, systemClock)
  await pipeline.start()
  const http = await listenHttp(pipeline, config, logger, access)
  const port = http.port
  // With tokens configured the demo's own traffic gets a token of its own.
  const token = access.isOpen() ? undefined : access.issueProcessToken('demo traffic', 'ingest')
  const emitter = createEmitter({
    transport: createHttpTransport({
      url: `http://${config.http.host}:${port}`,
      ...(token ? { token } : {}),
    }),
    logger: logger.child({ component: 'emitter' }),
  })
  const next = createDemoTraffic({
    random: seededRandom(options.seed),
    now: () => Date.now(),
    newId: randomUUID,
  })
  options.print(
    `demo: sending ${options.rate} events/s to http://${config.http.host}:${port}/v1/events (Ctrl-C to stop)\n`,
  )

  const signals = nextStopSignal(logger, () => ({ queued: pipeline.queued() }))
  const stopped = Promise.race([
    signals.signalled,
    ...(options.durationSeconds > 0
      ? [
          new Promise<void>((resolve) =>
            setTimeout(resolve, options.durationSeconds * 1000).unref(),
          ),
        ]
      : []),
  ])

  const tick = setInterval(() => {
    for (let i = 0; i < options.rate / 10; i++) emitter.emit(next())
  }, 100)
  const report = setInterval(() => {
    void printSpend(pipeline.client, options.print).catch((error: unknown) =>
      logger.warn({ err: error }, 'report failed'),
    )
  }, 5000)

  await stopped
  clearInterval(tick)
  clearInterval(report)
  await emitter.close()
  const httpClosed = http.close()
  await pipeline.stop().catch((error: unknown) => logger.error({ err: error }, 'stop failed'))
  await httpClosed
  const metrics = pipeline.processor.metrics
  options.print(`demo stopped: ${metrics.audited} events audited in ${pipeline.store.location}\n`)
  options.print(
    `try: spendguard sql "SELECT agent_id, count() calls, sum(cost_usd) usd FROM llm_calls GROUP BY agent_id ORDER BY usd DESC" --data-dir ${config.clickhouse.dataDir}\n`,
  )
}

async function printSpend(
  client: import('../platform/clickhouse.ts').ClickHouseClient,
  print: (text: string) => void,
): Promise<void> {
  const result = await client.query({
    query: `SELECT agent_id, model, count() AS calls, toString(sum(ifNull(cost_usd, 0))) AS spend_usd
            FROM llm_calls WHERE tenant_id = {tenant:String}
            GROUP BY agent_id, model ORDER BY sum(ifNull(cost_usd, 0)) DESC`,
    query_params: { tenant: 'demo' },
    format: 'JSONCompact',
  })
  const body = await result.json<unknown[]>()
  print('\n' + renderTable(['agent', 'model', 'calls', 'spend (USD)'], body.data))
}
