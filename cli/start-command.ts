import type { AddressInfo } from 'node:net'
import { createHttpServer } from '../api/http-server.ts'
import type { Config } from '../platform/config.ts'
import { systemClock } from '../platform/clock.ts'
import type { Logger } from '../platform/logger.ts'
import { createPipeline } from './runtime.ts'

/**
 * `spendguard start`: the pipeline plus its HTTP interface, until SIGTERM or SIGINT. On a
 * signal it stops accepting requests, drains what was accepted through the processor,
 * flushes the audit sink and closes every client, then exits 0.
 */
export async function runStart(
  config: Config,
  logger: Logger,
  options: { onListening?: (port: number) => void } = {},
): Promise<void> {
  const pipeline = await createPipeline(config, logger, systemClock)
  const server = createHttpServer({
    bus: pipeline.bus,
    logger: logger.child({ component: 'http' }),
    maxBodyBytes: config.http.maxBodyBytes,
    maxEventsPerRequest: config.http.maxEventsPerRequest,
    health: () => ({
      transport: pipeline.transport,
      store: pipeline.store,
      catalog: pipeline.pricer.catalogVersion,
      pipeline: pipeline.processor.metrics,
      audit: pipeline.sink.stats(),
    }),
  })
  await pipeline.start()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.http.port, config.http.host, resolve)
  })
  const port = (server.address() as AddressInfo).port
  logger.info(
    { port, host: config.http.host, transport: pipeline.transport, store: pipeline.store },
    'spendguard is running',
  )
  options.onListening?.(port)

  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down: draining accepted events')
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
      resolve()
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await pipeline.stop()
  logger.info({ pipeline: pipeline.processor.metrics, audit: pipeline.sink.stats() }, 'stopped')
}
