import { userInfo } from 'node:os'
import type { Config } from '../platform/config.ts'
import { SpendGuardError } from '../platform/errors.ts'
import { systemClock } from '../platform/clock.ts'
import type { Logger } from '../platform/logger.ts'
import { createHttpAccess, listenHttp, type HttpListener } from './http-listener.ts'
import { createPipeline } from './runtime.ts'
import { writeRunFile } from './running-pipeline.ts'

/** The address a local CLI reaches a listener on (a wildcard listens on loopback too). */
export function localUrl(host: string, port: number): string {
  const reach = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host
  return `http://${reach.includes(':') ? `[${reach}]` : reach}:${port}`
}

/**
 * Resolves at the first SIGTERM or SIGINT. Later signals do not cut the drain short (that is
 * what would lose events): each one says what the shutdown is waiting for. `kill -9` still
 * stops the process at once, and loses nothing that was answered "accepted".
 */
export function nextStopSignal(
  logger: Logger,
  progress: () => Record<string, unknown>,
): { signalled: Promise<void>; release(): void } {
  let first = true
  let resolveSignal = () => {}
  const signalled = new Promise<void>((resolve) => (resolveSignal = resolve))
  const onSignal = (signal: NodeJS.Signals) => {
    if (first) {
      first = false
      logger.info({ signal, ...progress() }, 'shutting down: writing queued events to the audit')
      resolveSignal()
      return
    }
    logger.warn(
      { signal, ...progress() },
      'still shutting down: waiting for queued events to reach the audit (their senders have ' +
        'not been told "accepted" yet); events already accepted are on disk',
    )
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  return {
    signalled,
    release() {
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
    },
  }
}

/**
 * `spendguard start`: the pipeline plus its HTTP interface, until SIGTERM or SIGINT. On a
 * signal it stops accepting requests, drains what was accepted through the processor,
 * flushes the audit sink and closes every client, then exits 0.
 */
export async function runStart(config: Config, logger: Logger): Promise<void> {
  const access = createHttpAccess(config, logger)
  const pipeline = await createPipeline(config, logger, systemClock)
  let http: HttpListener
  try {
    await pipeline.start()
    http = await listenHttp(pipeline, config, logger, access)
  } catch (error) {
    // A start that fails half-way (the port in use) stops what it started, so the process
    // exits with the error instead of hanging on open clients and timers.
    access.close()
    await pipeline
      .stop()
      .catch((stopError: unknown) =>
        logger.warn({ err: stopError }, 'stopping after a failed start failed'),
      )
    throw error
  }
  // SIGHUP re-reads token files at once (they are also watched).
  const reload = () => http.reloadTokens()
  process.on('SIGHUP', reload)
  // `sql`, `status` and `reconcile` on this data directory find the process through this.
  const removeRunFile = writeRunFile(config.clickhouse.dataDir, {
    pid: process.pid,
    url: localUrl(config.http.host, http.port),
    token: access.issueProcessToken('local CLI', 'read'),
    admin_token: access.issueProcessToken(`local CLI (${userInfo().username})`, 'admin'),
    started_at: new Date().toISOString(),
  })
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
  const signals = nextStopSignal(logger, () => ({
    queued: pipeline.queued(),
    audit: pipeline.sink.stats(),
  }))
  const crash = await Promise.race([
    signals.signalled.then(() => undefined),
    pipeline.fatal.then((error) => ({ error })),
  ])
  process.off('SIGHUP', reload)
  // New connections stop now; requests in flight get their answer when their events are
  // audited, which the pipeline's drain does (or its deadline parks them: answered 503).
  const httpClosed = http.close()
  try {
    await pipeline.stop()
    await httpClosed
  } finally {
    // The signal handlers stay until the process exits: a Ctrl-C after the drain, before the
    // exit, must not kill it either.
    removeRunFile()
  }
  logger.info({ pipeline: pipeline.processor.metrics, audit: pipeline.sink.stats() }, 'stopped')
  if (crash) {
    throw new SpendGuardError(
      `stopped: ${pipeline.readiness().reason ?? 'the input consumer crashed'}`,
      { code: 'CONSUMER_CRASHED', cause: crash.error },
    )
  }
}
