import type { Alert } from '../alerts/alert.ts'
import type { ControlPlane } from '../processors/control/control-plane.ts'
import type { BudgetUsage } from '../processors/detection/budget-usage.ts'
import { issueControl, resumeControl, streamControls } from './controls-request.ts'
import { isUtf8 } from 'node:buffer'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Clock } from '../platform/clock.ts'
import { SpendGuardError } from '../platform/errors.ts'
import type { Logger } from '../platform/logger.ts'
import type { ReadOnlyQueries } from '../platform/sql/read-only-queries.ts'
import { RecentIds } from '../processors/audit/recent-ids.ts'
import type { EventBus, Readiness } from '../processors/ingest/event-bus.ts'
import { DEFAULT_EVENT_TIME_WINDOW, type EventTimeWindow } from '../schemas/event-time.ts'
import { hasRole, type AccessTokens, type Principal, type Role } from './access-tokens.ts'
import { HttpError } from './http-error.ts'
import { markKnown, splitBody, validateItems, type BodyItem } from './ingest-request.ts'
import {
  checkContentType,
  checkHost,
  checkOrigin,
  corsHeaders,
  decodeUtf8,
  preflightHeaders,
} from './request-policy.ts'
import { answerReport, answerReportList, type ReportService } from './report-request.ts'
import { answerSpend } from './spend-request.ts'
import { spanItems } from './otlp-traces.ts'
import { dashboardAsset, DASHBOARD_ASSETS } from './dashboard-assets.ts'
import { createGunzip, createInflate } from 'node:zlib'
import { runSqlRequest } from './sql-request.ts'
import type { SpendView, ViewQuery } from '../processors/windows/spend-windows.ts'

export interface HttpServerOptions {
  bus: EventBus
  logger: Logger
  maxBodyBytes: number
  maxEventsPerRequest: number
  /** Details for GET /v1/status (a read token). */
  status: () => Record<string, unknown>
  /** GET /readyz: 200 when input is being consumed, 503 with the reason otherwise. */
  readiness?: () => Readiness
  /** Event times are checked against this clock (retention and future skew). */
  clock: Clock
  eventTimeWindow?: EventTimeWindow
  access: AccessTokens
  /** Host header names served; undefined: any. */
  allowedHosts: ReadonlySet<string> | undefined
  allowedOrigins: readonly string[]
  /** Read-only SQL behind POST /v1/sql. */
  queries: ReadOnlyQueries
  /** The subset of ids already in the audit, so a resend is answered `duplicate`. */
  auditedEventIds: (ids: string[]) => Promise<Set<string>>
  /** Live windowed spend behind GET /v1/spend; as of the clock. */
  spend: (query: ViewQuery) => SpendView
  /**
   * The bus's publish resolves after the processor has settled the events and reports which
   * were duplicates (in-process): no lookup before publishing.
   */
  busReportsDuplicates?: boolean
  /** Ids accepted by earlier requests that are remembered (default 200 000). */
  recentAcceptedCapacity?: number
  /** Control commands behind /v1/controls (none: the routes answer 404). */
  control?: ControlPlane | undefined
  /** Named reports behind GET /v1/reports and /v1/reports/<name> (none: 404). */
  reports?: ReportService | undefined
  /** The latest alerts behind GET /v1/alerts (none: 404). */
  alerts?: ((limit: number, tenant?: string) => Promise<Alert[]>) | undefined
  /** Day and month budgets and how much of each is used, behind GET /v1/budgets (none: 404). */
  budgets?: ((tenant?: string) => BudgetUsage[]) | undefined
  /** Told the answer to each ingest request's items (the metrics count them). */
  onIngested?: (
    route: string,
    counts: { accepted: number; duplicates: number; rejected: number },
  ) => void
  /** Prometheus text exposition behind GET /metrics (none: 404). */
  metrics?: (() => Promise<{ contentType: string; text: string }>) | undefined
}

export const EVENT_CONTENT_TYPES = [
  'application/json',
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
]

interface Route {
  /** Who may call it; undefined: anyone (health probes). */
  role?: Role
  /** Media types of the body, for routes that take one. */
  contentTypes?: readonly string[]
  /** What to change when the body's media type is refused, said with the 415. */
  contentHint?: string
  /**
   * What the route reads or does that spans every tenant: a token bound to one tenant is
   * answered 403 with this said first.
   */
  everyTenant?: string
  handle(
    request: IncomingMessage,
    body: RequestBody,
    principal: Principal,
  ): Promise<Answer> | Answer
  /** A route that answers with a stream of its own (server-sent events) instead of `handle`. */
  stream?: (
    request: IncomingMessage,
    response: ServerResponse,
    cors: Record<string, string>,
    principal: Principal,
  ) => void
}

export interface Answer {
  status: number
  body: unknown
  /** Text bodies (SQL output) go out as they are, with this content type. */
  contentType?: string
  headers?: Record<string, string>
}

/**
 * A request's body: its bytes, checked to be UTF-8 when read, and its text, made when first
 * asked for (the event routes split NDJSON from the bytes, one line at a time).
 */
export interface RequestBody {
  readonly bytes: Buffer
  text(): string
}

const NO_BODY: RequestBody = { bytes: Buffer.alloc(0), text: () => '' }

function requestBody(bytes: Buffer): RequestBody {
  if (!isUtf8(bytes)) throw new HttpError(400, 'the body is not valid UTF-8')
  let text: string | undefined
  return { bytes, text: () => (text ??= decodeUtf8(bytes)) }
}

/**
 * Reads the body, inflating `Content-Encoding: gzip` or `deflate`; past `limit` bytes (as sent,
 * and once inflated) it keeps draining the socket but stores nothing.
 */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase()
  if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'deflate')
    return Promise.reject(
      new HttpError(
        415,
        `Content-Encoding ${encoding} is not supported: use gzip, deflate or none`,
      ),
    )
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let sent = 0
    let size = 0
    let failure: HttpError | undefined
    const fail = (error: HttpError) => {
      failure ??= error
    }
    const inflate =
      encoding === 'gzip' ? createGunzip() : encoding === 'deflate' ? createInflate() : undefined
    const finish = () => (failure ? reject(failure) : resolve(Buffer.concat(chunks)))
    // Inflating stops at the first byte past the limit (or the first bad byte) and the answer
    // goes at once: a small body that inflates to gigabytes costs nothing more. The rest of
    // the body is drained unread.
    const stopInflating = (error: HttpError) => {
      fail(error)
      inflate?.destroy()
      reject(error)
    }
    const keep = (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) chunks.push(chunk)
      else if (inflate)
        stopInflating(new HttpError(413, `body exceeds ${limit} bytes once inflated`))
      else fail(new HttpError(413, `body exceeds ${limit} bytes`))
    }
    if (inflate) {
      inflate.on('data', keep)
      inflate.on('error', () =>
        stopInflating(
          new HttpError(400, `the body is not valid ${encoding} data (Content-Encoding)`),
        ),
      )
      inflate.on('close', finish)
    }
    request.on('data', (chunk: Buffer) => {
      sent += chunk.length
      if (sent > limit) fail(new HttpError(413, `body exceeds ${limit} bytes`))
      else if (inflate && !failure && !inflate.destroyed) inflate.write(chunk)
      else if (!inflate) keep(chunk)
    })
    request.on('end', () => {
      if (inflate) return inflate.destroyed ? finish() : inflate.end()
      // gzip's magic bytes on a body sent as plain: say what is missing, not that it is bad text.
      if (chunks[0]?.[0] === 0x1f && chunks[0][1] === 0x8b)
        fail(
          new HttpError(400, 'the body looks gzip-compressed: send it with Content-Encoding: gzip'),
        )
      finish()
    })
    request.on('error', reject)
  })
}

/** `?limit=N` of a URL: `fallback` when absent, 400 when not a whole number in 1..`max`. */
function boundedLimit(url: string, fallback: number, max: number): number {
  const text = new URL(url, 'http://localhost').searchParams.get('limit')
  if (text === null) return fallback
  const limit = Number(text)
  if (!Number.isInteger(limit) || limit < 1 || limit > max)
    throw new HttpError(400, `limit: must be a whole number from 1 to ${max}`)
  return limit
}

const tenantOf = (alert: Alert) => (alert.evidence as { tenant?: string }).tenant

/** The parameterised routes: DELETE /v1/controls/<command id>, GET /v1/reports/<name>. */
function parameterised(method: string, path: string): string {
  if (method === 'DELETE' && /^\/v1\/controls\/[^/]+$/.test(path)) return 'DELETE /v1/controls/:id'
  if (method === 'GET' && /^\/v1\/reports\/[^/]+$/.test(path)) return 'GET /v1/reports/:name'
  return ''
}

function send(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  contentType?: string,
): void {
  const text = contentType ? String(body) : JSON.stringify(body)
  response.writeHead(status, {
    'content-type': contentType ?? 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    ...headers,
  })
  response.end(text)
}

const OPEN_PRINCIPAL: Principal = { name: 'anonymous (open loopback API)', role: 'admin' }

/** The principal of a request's bearer token; 401 without a valid one. */
function authenticate(request: IncomingMessage, access: AccessTokens): Principal {
  const header = request.headers.authorization ?? ''
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  const principal = match ? access.identify(match[1]!) : undefined
  // Open (loopback, no tokens configured): a known token still names who acts (the local CLI).
  if (access.isOpen()) return principal ?? OPEN_PRINCIPAL
  if (!principal) {
    throw new HttpError(
      401,
      match ? 'the token is not valid' : 'an Authorization: Bearer <token> header is required',
      { 'www-authenticate': 'Bearer' },
    )
  }
  return principal
}

/**
 * The HTTP interface. Every request passes the Host and Origin checks; routes with a role need
 * a bearer token of that role (admin may do everything); bodies must have the route's media
 * type in UTF-8.
 * - `POST /v1/events` (ingest): a JSON array, one JSON event, or NDJSON; per-item results.
 * - `POST /v1/sql` (read): `{"query": "...", "format": "json|tsv|csv"}`, read-only.
 * - `GET /v1/spend` (read): live spend per key of a dimension in a window, by cost.
 * - `GET /v1/status` (read): what the pipeline is doing.
 * - `GET /v1/controls` (read): commands in force; `POST /v1/controls` (admin): block, throttle or
 *   downgrade a scope; `DELETE /v1/controls/<id>`, `POST /v1/controls/resume` (admin): lift;
 *   `GET /v1/controls/stream` (read): every command as server-sent events, for guards.
 * - `POST /v1/traces` (ingest): OTLP/HTTP JSON spans of LLM calls, each an event.
 * - `GET /v1/reports`, `GET /v1/reports/<name>?param=value&format=csv` (read): named reports.
 * - `GET /v1/alerts?limit=N` (read): the latest alerts; `GET /v1/budgets` (read): day and month
 *   budgets and how much of each is used.
 * - `GET /metrics` (read): Prometheus metrics.
 * - `GET /`: the dashboard page, which reads the routes above.
 * - `GET /healthz`, `GET /readyz`: liveness and readiness, without details.
 * Bodies may be sent with `Content-Encoding: gzip` or `deflate`.
 */
export function createHttpServer(options: HttpServerOptions): Server {
  const { bus, logger, access } = options
  const recentlyAccepted = new RecentIds(options.recentAcceptedCapacity ?? 200_000)
  const controlPlane = (): ControlPlane => {
    if (!options.control) throw new HttpError(404, 'this process has no control plane')
    return options.control
  }
  // Commands and their evidence span tenants, and a block can reach any of them.
  const CONTROLS = 'control commands concern every tenant'

  async function knownIds(ids: string[]): Promise<Set<string>> {
    const known = new Set(ids.filter((id) => recentlyAccepted.has(id)))
    const unknown = ids.filter((id) => !known.has(id))
    try {
      for (const id of await options.auditedEventIds(unknown)) known.add(id)
    } catch (error) {
      // The audit's own dedup still holds; only the answer may say accepted for a resend.
      logger.warn({ err: error }, 'could not look up audited event ids; resends may read accepted')
    }
    return known
  }

  async function ingest(items: BodyItem[], principal: Principal, route: string): Promise<Answer> {
    if (items.length === 0) throw new HttpError(400, 'no events in the body')
    if (items.length > options.maxEventsPerRequest) {
      throw new HttpError(413, `at most ${options.maxEventsPerRequest} events per request`)
    }
    const validated = validateItems(
      items,
      { now: options.clock.now(), window: options.eventTimeWindow ?? DEFAULT_EVENT_TIME_WINDOW },
      principal.tenant,
    )
    // A bus that answers after the audit write (embedded) says itself which events were
    // duplicates; otherwise they are looked up first.
    const known = options.busReportsDuplicates
      ? validated
      : markKnown(validated, await knownIds(validated.events.map((event) => event.event_id)))
    const events = known.events
    let results = known.results
    let reported: ReadonlySet<string> = new Set()
    if (events.length > 0) {
      try {
        const outcome = await bus.publish(events)
        if (outcome) reported = outcome.duplicates
      } catch (error) {
        if (error instanceof SpendGuardError && error.retriable) {
          throw new HttpError(503, `not accepted, retry later: ${error.message}`, {
            'retry-after': '1',
          })
        }
        throw error
      }
      // Remembered only where a resend is answered from them (the bus does not say).
      if (!options.busReportsDuplicates)
        for (const event of events) recentlyAccepted.add(event.event_id)
    }
    if (reported.size > 0) results = markKnown({ events, results }, reported).results
    const accepted = results.filter((r) => r.status === 'accepted').length
    const rejected = results.filter((r) => r.status === 'rejected').length
    const duplicates = results.length - accepted - rejected
    options.onIngested?.(route, { accepted, duplicates, rejected })
    const status = rejected === 0 ? 200 : accepted + duplicates > 0 ? 207 : 400
    return { status, body: { accepted, rejected, duplicates, results } }
  }

  const routes: Record<string, Route> = {
    'POST /v1/events': {
      role: 'ingest',
      contentTypes: EVENT_CONTENT_TYPES,
      handle: (_request, body, principal) => ingest(splitBody(body.bytes), principal, '/v1/events'),
    },
    // OTLP/HTTP JSON traces: spans of LLM calls (OpenTelemetry GenAI conventions) as events.
    'POST /v1/traces': {
      role: 'ingest',
      contentTypes: ['application/json'],
      contentHint: 'OTLP protobuf is not read: set the exporter protocol to http/json',
      handle: async (_request, body, principal) => {
        const { items, skipped } = spanItems(body.text())
        // An export without model calls (a quiet batch of other spans) is delivered, not bad.
        if (items.length === 0)
          return {
            status: 200,
            body: { accepted: 0, rejected: 0, duplicates: 0, skipped, results: [] },
          }
        const answer = await ingest(items, principal, '/v1/traces')
        return { ...answer, body: { ...(answer.body as object), skipped } }
      },
    },
    'GET /v1/reports': {
      role: 'read',
      handle: () => answerReportList(options.reports),
    },
    'GET /v1/reports/:name': {
      role: 'read',
      everyTenant: "reports read every tenant's rows",
      handle: (request) => answerReport(options.reports, request.url ?? '/'),
    },
    'GET /v1/alerts': {
      role: 'read',
      handle: async (request, _body, principal) => {
        if (!options.alerts) throw new HttpError(404, 'this process keeps no alerts')
        const limit = boundedLimit(request.url ?? '/', 50, 500)
        // A token bound to a tenant reads that tenant's latest alerts (filtered by the query,
        // so its own are not crowded out by others').
        const alerts = (await options.alerts(limit, principal.tenant)).filter(
          (alert) => principal.tenant === undefined || tenantOf(alert) === principal.tenant,
        )
        return { status: 200, body: { alerts } }
      },
    },
    'GET /v1/budgets': {
      role: 'read',
      handle: (_request, _body, principal) => {
        if (!options.budgets) throw new HttpError(404, 'this process has no budgets')
        const budgets = options
          .budgets(principal.tenant)
          .filter((use) => principal.tenant === undefined || use.tenant === principal.tenant)
        return {
          status: 200,
          body: { as_of: new Date(options.clock.now()).toISOString(), budgets },
        }
      },
    },
    'GET /metrics': {
      role: 'read',
      everyTenant: 'metrics cover every tenant',
      handle: async () => {
        if (!options.metrics) throw new HttpError(404, 'this process exposes no metrics')
        const { contentType, text } = await options.metrics()
        return { status: 200, body: text, contentType }
      },
    },
    // The dashboard: a page and its assets, public (the data comes from the API, with a token).
    ...Object.fromEntries(
      DASHBOARD_ASSETS.map((path): [string, Route] => [
        `GET ${path}`,
        { handle: () => dashboardAsset(path) },
      ]),
    ),
    'POST /v1/sql': {
      role: 'read',
      contentTypes: ['application/json'],
      everyTenant: "SQL reads every tenant's rows",
      handle: (_request, body) => runSqlRequest(options.queries, body.text()),
    },
    'GET /v1/spend': {
      role: 'read',
      handle: (request, _body, principal) =>
        answerSpend(request.url ?? '/', options.clock.now(), principal.tenant, options.spend),
    },
    'GET /v1/status': { role: 'read', handle: () => ({ status: 200, body: options.status() }) },
    'GET /v1/controls': {
      role: 'read',
      everyTenant: CONTROLS,
      handle: () => ({
        status: 200,
        body: { commands: controlPlane().active(), key: controlPlane().publicKey },
      }),
    },
    'POST /v1/controls': {
      role: 'admin',
      contentTypes: ['application/json'],
      everyTenant: CONTROLS,
      handle: (_request, body, principal) => issueControl(controlPlane(), body.text(), principal),
    },
    'POST /v1/controls/resume': {
      role: 'admin',
      contentTypes: ['application/json'],
      everyTenant: CONTROLS,
      handle: (_request, body, principal) =>
        resumeControl(controlPlane(), { body: body.text() }, principal),
    },
    'DELETE /v1/controls/:id': {
      role: 'admin',
      everyTenant: CONTROLS,
      handle: (request, _body, principal) =>
        resumeControl(
          controlPlane(),
          { commandId: decodeURIComponent((request.url ?? '').split('?')[0]!.slice(13)) },
          principal,
        ),
    },
    'GET /v1/controls/stream': {
      role: 'read',
      everyTenant: CONTROLS,
      handle: () => ({ status: 500, body: {} }),
      stream: (request, response, cors) => streamControls(controlPlane(), request, response, cors),
    },
    'GET /healthz': { handle: () => ({ status: 200, body: { status: 'ok' } }) },
    'GET /readyz': {
      handle: () => {
        const readiness = options.readiness?.() ?? { ready: true }
        return readiness.ready
          ? { status: 200, body: { status: 'ready' } }
          : { status: 503, body: { status: 'not_ready', reason: readiness.reason } }
      },
    },
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    checkHost(request, options.allowedHosts)
    const path = (request.url ?? '/').split('?')[0]!
    const method = request.method ?? 'GET'
    const origin = checkOrigin(request, options.allowedOrigins)
    if (method === 'OPTIONS') {
      if (origin === undefined) throw new HttpError(403, 'no cross-origin access is configured')
      response.writeHead(204, preflightHeaders(origin)).end()
      return
    }
    const found = routes[`${method} ${path}`] ?? routes[parameterised(method, path)]
    if (!found) {
      const methods = Object.keys(routes)
        .filter((key) => key.endsWith(` ${path}`))
        .map((key) => key.split(' ')[0]!)
      if (methods.length > 0)
        throw new HttpError(405, `use ${methods.join(' or ')}`, { allow: methods.join(', ') })
      throw new HttpError(404, `no route for ${method} ${path}`)
    }
    let principal = OPEN_PRINCIPAL
    if (found.role) {
      principal = authenticate(request, access)
      if (!hasRole(principal, found.role))
        throw new HttpError(403, `this token (${principal.role}) may not ${method} ${path}`)
      if (found.everyTenant !== undefined && principal.tenant !== undefined)
        throw new HttpError(
          403,
          `${found.everyTenant}; this token is bound to tenant "${principal.tenant}"`,
        )
    }
    let body = NO_BODY
    // A full queue turns events away before their body is read and parsed.
    if (found.role === 'ingest' && bus.hasRoom?.() === false)
      throw new HttpError(503, 'not accepted, retry later: the ingest queue is full', {
        'retry-after': '1',
      })
    if (found.contentTypes) {
      checkContentType(request, found.contentTypes, found.contentHint)
      body = requestBody(await readBody(request, options.maxBodyBytes))
    }
    if (found.stream) {
      found.stream(request, response, corsHeaders(origin), principal)
      return
    }
    const answer = await found.handle(request, body, principal)
    send(
      response,
      answer.status,
      answer.body,
      { ...answer.headers, ...corsHeaders(origin) },
      answer.contentType,
    )
  }

  return createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      if (error instanceof HttpError) {
        // Unread bodies are drained so the client reads the answer, not a reset.
        request.resume()
        send(response, error.status, { error: error.message }, error.headers)
        return
      }
      logger.error(
        { err: error, method: request.method, path: request.url?.split('?')[0] },
        'request failed',
      )
      send(response, 500, { error: 'internal error' })
    })
  })
}
