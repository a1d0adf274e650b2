import type { Config } from '../platform/config.ts'
import { SpendGuardError } from '../platform/errors.ts'
import { systemClock } from '../platform/clock.ts'
import type { Logger } from '../platform/logger.ts'
import { createHttpAccess, listenHttp } from './http-listener.ts'
import { createPipeline } from './runtime.ts'

/** Resolves at the first SIGTERM or SIGINT. */
export function nextStopSignal(logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down: draining accepted events')
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
      resolve()
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
}

/**
 * `spendguard start`: the pipeline plus its HTTP interface, until SIGTERM or SIGINT. On a
 * signal it stops accepting requests, drains what was accepted through the processor,
 * flushes the audit sink and closes every client, then exits 0.
 */
export async function runStart(config: Config, logger: Logger): Promise<void> {
  const access = createHttpAccess(config, logger)
  const pipeline = await createPipeline(config, logger, systemClock)
  await pipeline.start()
  const http = await listenHttp(pipeline, config, logger, access)
  // SIGHUP re-reads token files at once (they are also watched).
  const reload = () => http.reloadTokens()
  process.on('SIGHUP', reload)
  logger.info(
    {
      port: http.port,
      host: config.http.host,
      transport: pipeline.transport,
      store: pipeline.store,
    },
    'spendguard is running',
  )
  // Stop on a signal, or when the input can no longer be consumed: a service that does not
  // consume must not look alive.
  const crash = await Promise.race([
    nextStopSignal(logger).then(() => undefined),
    pipeline.fatal.then((error) => ({ error })),
  ])
  process.off('SIGHUP', reload)
  await http.close()
  await pipeline.stop()
  logger.info({ pipeline: pipeline.processor.metrics, audit: pipeline.sink.stats() }, 'stopped')
  if (crash) {
    throw new SpendGuardError(
      `stopped: ${pipeline.readiness().reason ?? 'the input consumer crashed'}`,
      { code: 'CONSUMER_CRASHED', cause: crash.error },
    )
  }
}
