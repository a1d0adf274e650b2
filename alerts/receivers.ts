import { createHmac } from 'node:crypto'
import { SpendGuardError } from '../platform/errors.ts'
import type { Alert } from './alert.ts'
import { resolveSecret, type AlertRouting } from './routing.ts'

/** One notification: the alert, and how many like it the cooldown held back before it. */
export interface Notification {
  alert: Alert
  suppressed: number
  /** Set when the condition cleared: why (a PagerDuty `resolve`, a "resolved" message). */
  resolved?: string
}

/** A place alerts are delivered to; `send` resolves once the receiver has taken it. */
export interface Receiver {
  name: string
  kind: 'slack' | 'pagerduty' | 'webhook'
  send(notification: Notification): Promise<void>
  /** A digest: a title and its lines (Slack and webhooks; PagerDuty takes none). */
  digest?(title: string, lines: string[]): Promise<void>
}

/** A delivery that failed; retriable unless the receiver refused it for good (a 4xx). */
export class DeliveryError extends SpendGuardError {
  constructor(
    message: string,
    retriable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message, { code: 'ALERT_DELIVERY_FAILED', retriable })
  }
}

type Fetch = typeof fetch

/** Seconds or an HTTP date, as Retry-After says it, in milliseconds. */
function retryAfter(header: string | null, now: number): number | undefined {
  if (header === null) return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const at = Date.parse(header)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

async function post(
  fetchImpl: Fetch,
  receiver: string,
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<void> {
  let response: Response
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      signal: AbortSignal.timeout(10_000),
    })
  } catch (error) {
    throw new DeliveryError(
      `${receiver} is unreachable: ${error instanceof Error ? error.message : String(error)}`,
      true,
    )
  }
  const text = await response.text().catch(() => '')
  if (response.ok) return
  const retriable = response.status === 429 || response.status >= 500 || response.status === 408
  throw new DeliveryError(
    `${receiver} answered ${response.status}: ${text.slice(0, 200)}`,
    retriable,
    retryAfter(response.headers.get('retry-after'), Date.now()),
  )
}

const evidenceOf = (alert: Alert) =>
  alert.evidence as {
    tenant?: string
    rule?: string
    window?: string
    observed?: string
    threshold?: string
    event_ids?: string[]
    command?: string
    who?: Record<string, string>
  }

/** The lines a person reads first: what, who, how much against what, the rule, when. */
export function summaryLines(notification: Notification, dashboardUrl?: string): string[] {
  const { alert, suppressed } = notification
  const evidence = evidenceOf(alert)
  if (notification.resolved !== undefined)
    return [
      `[resolved] ${alert.type}: ${alert.summary}`,
      `scope: ${alert.scope.kind} ${alert.scope.id}${evidence.tenant ? ` (tenant ${evidence.tenant})` : ''}`,
      `cleared: ${notification.resolved}`,
    ]
  const lines = [
    `[${alert.severity}] ${alert.type}: ${alert.summary}`,
    `scope: ${alert.scope.kind} ${alert.scope.id}${evidence.tenant ? ` (tenant ${evidence.tenant})` : ''}`,
  ]
  if (evidence.who !== undefined)
    lines.push(
      `who: ${Object.entries(evidence.who)
        .map(([kind, id]) => `${kind} ${id}`)
        .join(', ')}`,
    )
  if (evidence.observed !== undefined)
    lines.push(
      `observed ${evidence.observed} against ${evidence.threshold ?? '-'} (${evidence.window ?? '-'})`,
    )
  lines.push(`rule: ${evidence.rule ?? alert.type}, at ${alert.occurred_at}`)
  if (evidence.command !== undefined) lines.push(`done: ${evidence.command}`)
  if (suppressed > 0) lines.push(`and ${suppressed} more like it since the last notification`)
  lines.push(
    dashboardUrl
      ? `see ${dashboardUrl}`
      : `see: spendguard sql "SELECT * FROM alerts FINAL WHERE alert_id = '${alert.alert_id}'"`,
  )
  return lines
}

/** Ids come from events: <, > and & would be links or mentions in Slack's markup. */
const slackEscape = (line: string) =>
  line.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

const PD_SEVERITY = { info: 'info', warning: 'warning', critical: 'critical' } as const

/** Receivers of a routing configuration, their secrets read from `env`. */
export function createReceivers(
  routing: AlertRouting,
  env: Record<string, string | undefined>,
  fetchImpl: Fetch = fetch,
  now: () => number = Date.now,
): Receiver[] {
  const slack = routing.slack.map((config, i): Receiver => {
    const url = resolveSecret(config.webhook_url, `alerts.slack.${i}.webhook_url`, env)
    return {
      name: config.name,
      kind: 'slack',
      send: (notification) => {
        const lines = summaryLines(notification, routing.dashboard_url).map(slackEscape)
        return post(
          fetchImpl,
          config.name,
          url,
          JSON.stringify({
            text: lines[0],
            blocks: [
              { type: 'section', text: { type: 'mrkdwn', text: `*${lines[0]}*` } },
              { type: 'section', text: { type: 'mrkdwn', text: lines.slice(1).join('\n') } },
            ],
          }),
        )
      },
      digest: (title, lines) =>
        post(
          fetchImpl,
          config.name,
          url,
          JSON.stringify({
            text: title,
            blocks: [
              { type: 'header', text: { type: 'plain_text', text: title.slice(0, 150) } },
              {
                type: 'section',
                text: {
                  type: 'mrkdwn',
                  text: lines.map(slackEscape).join('\n').slice(0, 3000),
                },
              },
            ],
          }),
        ),
    }
  })
  const pagerduty = routing.pagerduty.map((config, i): Receiver => {
    const routingKey = resolveSecret(config.routing_key, `alerts.pagerduty.${i}.routing_key`, env)
    return {
      name: config.name,
      kind: 'pagerduty',
      send: ({ alert, suppressed, resolved }) =>
        post(
          fetchImpl,
          config.name,
          config.events_url,
          JSON.stringify(
            resolved !== undefined
              ? // The incident of the same dedup key is resolved; no payload goes with it.
                { routing_key: routingKey, event_action: 'resolve', dedup_key: alert.dedup_key }
              : {
                  routing_key: routingKey,
                  event_action: 'trigger',
                  dedup_key: alert.dedup_key,
                  payload: {
                    summary: alert.summary.slice(0, 1024),
                    source: 'spendguard',
                    severity: PD_SEVERITY[alert.severity],
                    timestamp: alert.occurred_at,
                    component: alert.scope.kind,
                    group: alert.type,
                    class: alert.type,
                    custom_details: { ...alert.evidence, scope: alert.scope, suppressed },
                  },
                },
          ),
        ),
    }
  })
  const webhooks = routing.webhooks.map((config, i): Receiver => {
    const url = resolveSecret(config.url, `alerts.webhooks.${i}.url`, env)
    const key =
      config.secret === undefined
        ? undefined
        : resolveSecret(config.secret, `alerts.webhooks.${i}.secret`, env)
    /** The receiver checks HMAC-SHA256(secret, "<timestamp>.<body>") and the timestamp's age. */
    const signedPost = (event: Record<string, unknown>) => {
      const body = JSON.stringify(event)
      const timestamp = String(Math.floor(now() / 1000))
      const headers: Record<string, string> = { 'x-spendguard-timestamp': timestamp }
      if (key)
        headers['x-spendguard-signature'] =
          `sha256=${createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex')}`
      return post(fetchImpl, config.name, url, body, headers)
    }
    return {
      name: config.name,
      kind: 'webhook',
      send: ({ alert, suppressed, resolved }) =>
        signedPost(
          resolved !== undefined
            ? { event: 'resolved', alert, reason: resolved }
            : { event: 'triggered', alert, suppressed },
        ),
      digest: (title, lines) => signedPost({ event: 'digest', title, lines }),
    }
  })
  return [...slack, ...pagerduty, ...webhooks]
}
