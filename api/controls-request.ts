import type { IncomingMessage, ServerResponse } from 'node:http'
import { z } from 'zod'
import type { ControlPlane, LoggedCommand } from '../processors/control/control-plane.ts'
import { UnknownCommandError } from '../processors/control/control-plane.ts'
import { CONTROL_SCOPE_KINDS } from '../producers/guard/control-command.ts'
import type { Principal } from './access-tokens.ts'
import { HttpError } from './http-error.ts'

const DURATION = /^(\d+)(ms|s|m|h|d)$/
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** "90s", "15m", "1h", "2d" in milliseconds; undefined when it is not such a duration. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim())
  if (!match) return undefined
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]
}

const scope = z.object({ kind: z.enum(CONTROL_SCOPE_KINDS), id: z.string().min(1) })

const issueSchema = z.strictObject({
  action: z.enum(['block', 'throttle', 'downgrade']),
  scope,
  tenant: z.string().min(1).optional(),
  calls_per_minute: z.int().positive().optional(),
  model: z.string().min(1).optional(),
  reason: z.string().min(1, 'say why (it is audited with the command)'),
  ttl: z
    .string()
    .refine((v) => parseDuration(v) !== undefined, 'must be a duration such as 90s, 15m, 1h, 2d')
    .optional(),
})

const resumeSchema = z.strictObject({
  scope,
  tenant: z.string().min(1).optional(),
  reason: z.string().min(1).default('resumed'),
})

function parseBody<T>(schema: z.ZodType<T>, body: string): T {
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    throw new HttpError(400, 'the body is not JSON')
  }
  const parsed = schema.safeParse(json)
  if (!parsed.success)
    throw new HttpError(
      400,
      parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '),
    )
  return parsed.data
}

/** What a refused request asked for, as the audit keeps it: the body's JSON, or its text. */
function asked(body: string): Record<string, unknown> {
  try {
    const json: unknown = JSON.parse(body)
    if (json !== null && typeof json === 'object' && !Array.isArray(json))
      return json as Record<string, unknown>
  } catch {
    // Not JSON: kept as text.
  }
  return { body: body.slice(0, 4096) }
}

/** A request the control plane turns down is audited as refused, then answered. */
async function auditingRefusals<T>(
  control: ControlPlane,
  request: () => Record<string, unknown>,
  principal: Principal,
  handle: () => Promise<T>,
): Promise<T> {
  try {
    return await handle()
  } catch (error) {
    const refusal =
      error instanceof UnknownCommandError
        ? new HttpError(404, error.message)
        : error instanceof HttpError && error.status < 500
          ? error
          : undefined
    if (!refusal) throw error
    await control.refuse(request(), principal.name, refusal.message)
    throw refusal
  }
}

/** POST /v1/controls: a person's block, throttle or downgrade, signed and logged. */
export function issueControl(control: ControlPlane, body: string, principal: Principal) {
  return auditingRefusals(
    control,
    () => asked(body),
    principal,
    () => issue(control, body, principal),
  )
}

async function issue(control: ControlPlane, body: string, principal: Principal) {
  const request = parseBody(issueSchema, body)
  if (request.action === 'throttle' && request.calls_per_minute === undefined)
    throw new HttpError(400, 'calls_per_minute: a throttle needs the calls allowed per minute')
  if (request.action === 'downgrade' && request.model === undefined)
    throw new HttpError(400, 'model: a downgrade needs the model to use instead')
  const command = await control.issue(
    {
      ...request,
      ttlMs: request.ttl === undefined ? undefined : parseDuration(request.ttl),
    },
    principal.name,
  )
  return { status: 201, body: { command } }
}

/** DELETE /v1/controls/<id>, or POST /v1/controls/resume with a scope: a signed resume. */
export function resumeControl(
  control: ControlPlane,
  target: { commandId: string } | { body: string },
  principal: Principal,
) {
  return auditingRefusals(
    control,
    () =>
      'commandId' in target
        ? { action: 'resume', resumes: target.commandId }
        : { action: 'resume', ...asked(target.body) },
    principal,
    () => resume(control, target, principal),
  )
}

async function resume(
  control: ControlPlane,
  target: { commandId: string } | { body: string },
  principal: Principal,
) {
  if ('commandId' in target) {
    const command = await control.resume({ commandId: target.commandId }, principal.name, 'resumed')
    return { status: 200, body: { command } }
  }
  const request = parseBody(resumeSchema, target.body)
  const command = await control.resume(
    { scope: request.scope, tenant: request.tenant },
    principal.name,
    request.reason,
  )
  return { status: 200, body: { command } }
}

/**
 * GET /v1/controls/stream: every command in order as server-sent events (`id` is the log
 * position), from the position after `Last-Event-ID` (or `?since=`), then each new one as it is
 * issued; a comment every 15 s keeps proxies from closing the stream.
 */
export function streamControls(
  control: ControlPlane,
  request: IncomingMessage,
  response: ServerResponse,
  corsHeaders: Record<string, string>,
): void {
  if (control.closing)
    throw new HttpError(503, 'shutting down: follow the next process', { 'retry-after': '1' })
  const url = new URL(request.url ?? '/', 'http://localhost')
  const from = Number(request.headers['last-event-id'] ?? url.searchParams.get('since') ?? 0)
  const since = Number.isSafeInteger(from) && from >= 0 ? from : 0
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    // Its socket is not reused for other requests after the stream ends.
    connection: 'close',
    ...corsHeaders,
  })
  const write = (entry: LoggedCommand) =>
    response.write(`id: ${entry.seq}\nevent: command\ndata: ${JSON.stringify(entry.command)}\n\n`)
  // Subscribed before the backlog is written, and deduplicated by position: nothing is missed.
  let sent = since
  const pending: LoggedCommand[] = []
  let caughtUp = false
  const unsubscribe = control.subscribe((entry) => {
    if (!caughtUp) pending.push(entry)
    else if (entry.seq > sent) {
      write(entry)
      sent = entry.seq
    }
  })
  for (const entry of [...control.since(since), ...pending]) {
    if (entry.seq <= sent) continue
    write(entry)
    sent = entry.seq
  }
  caughtUp = true
  // Guards are ready once they have read this far.
  response.write(`event: caught-up\ndata: ${JSON.stringify({ seq: sent })}\n\n`)
  const heartbeat = setInterval(() => response.write(': keep-alive\n\n'), 15_000)
  heartbeat.unref()
  const stop = () => {
    clearInterval(heartbeat)
    unsubscribe()
    forget()
  }
  const forget = control.onShutdown(() => {
    stop()
    response.end()
  })
  request.on('close', stop)
  response.on('error', stop)
}
