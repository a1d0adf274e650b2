import type { AddressInfo } from 'node:net'
import { onTestFinished } from 'vitest'
import type { ReportService } from '../../api/report-request.ts'
import { createAccessTokens } from '../../api/access-tokens.ts'
import { createHttpServer } from '../../api/http-server.ts'
import { allowedHostNames } from '../../api/request-policy.ts'
import { ManualClock } from '../../platform/clock.ts'
import { parseConfig, type ConfigInput } from '../../platform/config.ts'
import { silentLogger } from '../../platform/logger.ts'
import type { ReadOnlyQueries } from '../../platform/sql/read-only-queries.ts'
import type { EventBus, Readiness } from '../../processors/ingest/event-bus.ts'
import type { InputRecord } from '../../processors/ingest/event-processor.ts'
import { createInProcessBus } from '../../processors/ingest/in-process-bus.ts'
import { SpendWindows } from '../../processors/windows/spend-windows.ts'

export interface ServeApiOptions {
  capacity?: number
  maxBodyBytes?: number
  /** `auth` and `http` sections of a config document. */
  config?: Pick<ConfigInput, 'auth' | 'http'>
  env?: Record<string, string>
  /** Ids the audit already holds. */
  audited?: Iterable<string>
  queries?: ReadOnlyQueries
  readiness?: () => Readiness
  /** The handler waits until `release()` is called: the queue fills up. */
  holdBatches?: boolean
  /** Live windows behind GET /v1/spend (empty ones by default). */
  windows?: SpendWindows
  /** Named reports behind GET /v1/reports (none by default). */
  reports?: ReportService
}

/**
 * The HTTP API over an in-process bus that records what it receives, on a free loopback port;
 * closed when the test ends.
 */
export async function serveApi(options: ServeApiOptions = {}) {
  const config = parseConfig(options.config ?? {})
  const bus: EventBus = createInProcessBus({
    logger: silentLogger(),
    capacity: options.capacity ?? 1000,
  })
  const received: InputRecord[] = []
  let release = () => {}
  const held = options.holdBatches
    ? new Promise<void>((resolve) => (release = resolve))
    : Promise.resolve()
  await bus.start(async (records) => {
    received.push(...records)
    await held
  })
  const audited = new Set(options.audited ?? [])
  const windows = options.windows ?? new SpendWindows()
  const access = createAccessTokens({
    auth: config.auth,
    env: options.env ?? {},
    logger: silentLogger(),
  })
  const queries: ReadOnlyQueries = options.queries ?? {
    check: (query) => Promise.resolve({ statement: query }),
    run: (query, format) => Promise.resolve({ text: `ran: ${query}`, format }),
  }
  const server = createHttpServer({
    bus,
    logger: silentLogger(),
    maxBodyBytes: options.maxBodyBytes ?? 1_000_000,
    maxEventsPerRequest: 100,
    status: () => ({ pipeline: { received: received.length } }),
    clock: new ManualClock(Date.parse('2026-03-02T12:00:00Z')),
    access,
    allowedHosts: allowedHostNames('127.0.0.1', config.http.allowedHosts),
    allowedOrigins: config.http.allowedOrigins,
    queries,
    auditedEventIds: (ids) => Promise.resolve(new Set(ids.filter((id) => audited.has(id)))),
    spend: (query) => windows.view(query),
    ...(options.readiness ? { readiness: options.readiness } : {}),
    ...(options.reports ? { reports: options.reports } : {}),
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  onTestFinished(async () => {
    release()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await bus.stop()
  })
  return { url: `http://127.0.0.1:${port}`, port, received, bus, access, release: () => release() }
}
