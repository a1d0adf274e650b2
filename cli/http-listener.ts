import type { AddressInfo } from 'node:net'
import { createAccessTokens, type AccessTokens } from '../api/access-tokens.ts'
import { createHttpServer } from '../api/http-server.ts'
import { allowedHostNames, isLoopbackHost } from '../api/request-policy.ts'
import type { Config } from '../platform/config.ts'
import { ConfigError } from '../platform/errors.ts'
import type { Logger } from '../platform/logger.ts'
import { budgetUsage } from '../processors/detection/budget-usage.ts'
import { readLatestAlerts } from '../processors/detection/decision-store.ts'
import { createReportService } from '../processors/reports/report-service.ts'
import type { Pipeline } from './runtime.ts'

export interface HttpListener {
  port: number
  /** Re-reads token files (SIGHUP). */
  reloadTokens(): void
  /** Stops accepting connections and waits for open requests to finish. */
  close(): Promise<void>
}

/**
 * The access tokens of the HTTP API, checked before anything starts: without tokens the API
 * may serve loopback addresses only, and says so; on any other address this refuses.
 */
export function createHttpAccess(
  config: Config,
  logger: Logger,
  env: Record<string, string | undefined> = process.env,
): AccessTokens {
  const httpLogger = logger.child({ component: 'http' })
  const access = createAccessTokens({ auth: config.auth, env, logger: httpLogger, watch: true })
  if (access.isOpen()) {
    if (!isLoopbackHost(config.http.host)) {
      access.close()
      throw new ConfigError(
        `refusing to serve the HTTP API on ${config.http.host} without access tokens: anyone who ` +
          'can reach that address could write spend and read the audit. Configure tokens ' +
          '(auth.tokens in the config file, or a tokens file in SPENDGUARD_TOKENS_FILE), or ' +
          'listen on 127.0.0.1 (--host 127.0.0.1)',
      )
    }
    httpLogger.warn(
      { host: config.http.host },
      'the HTTP API is open: no access tokens are configured, so it serves this machine only',
    )
  }
  return access
}

/** Serves the HTTP API of a pipeline on the configured address. */
export async function listenHttp(
  pipeline: Pipeline,
  config: Config,
  logger: Logger,
  access: AccessTokens,
): Promise<HttpListener> {
  const httpLogger = logger.child({ component: 'http' })
  const server = createHttpServer({
    bus: pipeline.bus,
    logger: httpLogger,
    maxBodyBytes: config.http.maxBodyBytes,
    maxEventsPerRequest: config.http.maxEventsPerRequest,
    clock: pipeline.clock,
    access,
    allowedHosts: allowedHostNames(config.http.host, config.http.allowedHosts),
    allowedOrigins: config.http.allowedOrigins,
    queries: pipeline.queries,
    auditedEventIds: (ids) => pipeline.auditedEventIds(ids),
    busReportsDuplicates: pipeline.transport === 'embedded',
    readiness: () => pipeline.readiness(),
    control: pipeline.control,
    spend: (query) => pipeline.spend(query),
    reports: createReportService(pipeline.queries, { clock: pipeline.clock }),
    alerts: (limit, tenant) => readLatestAlerts(pipeline.client, limit, tenant),
    budgets: (tenant) =>
      budgetUsage(
        config.budgets,
        (query) => pipeline.spend(query),
        pipeline.clock.now(),
        20,
        tenant,
      ),
    metrics: pipeline.metrics ? () => pipeline.metrics!.render() : undefined,
    onIngested: (route, counts) => pipeline.metrics?.ingested(route, counts),
    status: () => ({
      readiness: pipeline.readiness(),
      transport: pipeline.transport,
      store: pipeline.store,
      catalog: pipeline.pricer.catalogVersion,
      pipeline: pipeline.processor.metrics,
      audit: pipeline.sink.stats(),
      windows: pipeline.windowsStatus(),
    }),
  })
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(config.http.port, config.http.host, resolve)
    })
  } catch (error) {
    access.close()
    throw error
  }
  return {
    port: (server.address() as AddressInfo).port,
    reloadTokens: () => access.reload(),
    close: () =>
      new Promise<void>((resolve) => {
        access.close()
        server.close(() => resolve())
        // Control streams never end by themselves: end them so the close can complete.
        pipeline.control.endStreams()
      }),
  }
}
