import { readFileSync } from 'node:fs'
import { z } from 'zod'
import type { Alert } from './alert.ts'

/**
 * Where alerts go (SPEC section 10): Slack incoming webhooks, PagerDuty Events API v2 routing
 * keys and signed webhooks, chosen by routes on severity, type, tenant, team and agent.
 * Secrets are written as `${ENV_VAR}` and read from the environment at start, never logged.
 */
const DURATION = /^(\d+)(ms|s|m|h)$/
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const

const duration = z
  .string()
  .regex(DURATION, 'must be a duration such as 90s, 15m, 1h')
  .transform((text) => {
    const [, amount, unit] = DURATION.exec(text)!
    return Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS]
  })

const name = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits or _ . -')
const secret = z.string().min(1)

export const alertRoutingSchema = z
  .strictObject({
    /** One notification per alert type and scope per receiver within this time. */
    cooldown: duration.default(15 * 60_000),
    /**
     * A loop or an anomaly has no end the detectors can see (the calls just stop): its alerts
     * are resolved once no alert of the same type and scope was raised for this long.
     */
    resolve_after: duration.default(30 * 60_000),
    /** A page to link from messages (the dashboard), when there is one. */
    dashboard_url: z.url().optional(),
    slack: z.array(z.strictObject({ name, webhook_url: secret })).default([]),
    pagerduty: z
      .array(
        z.strictObject({
          name,
          routing_key: secret,
          events_url: z.url().default('https://events.pagerduty.com/v2/enqueue'),
        }),
      )
      .default([]),
    webhooks: z.array(z.strictObject({ name, url: secret, secret: secret.optional() })).default([]),
    /**
     * Spend digests (cron expressions in UTC; `off` turns one off), to the receivers named in
     * `to` (default: every Slack receiver).
     */
    digests: z
      .strictObject({
        daily: z.string().min(1).default('0 8 * * *'),
        weekly: z.string().min(1).default('0 8 * * 1'),
        to: z.array(name).optional(),
      })
      .prefault({}),
    /**
     * Each alert goes to the receivers of every route it matches (all given fields must match).
     * Without routes: warning to every Slack receiver, critical to every PagerDuty receiver and
     * every Slack receiver; info only to the log.
     */
    routes: z
      .array(
        z.strictObject({
          severity: z.enum(['info', 'warning', 'critical']).optional(),
          /** An alert type (`policy.model`), its family (`policy`), or `policy_violation`. */
          type: z.string().min(1).optional(),
          tenant: z.string().min(1).optional(),
          team: z.string().min(1).optional(),
          agent: z.string().min(1).optional(),
          to: z.array(name).min(1),
        }),
      )
      .default([]),
  })
  .superRefine((routing, ctx) => {
    const names = [
      ...routing.slack.map((r) => r.name),
      ...routing.pagerduty.map((r) => r.name),
      ...routing.webhooks.map((r) => r.name),
    ]
    const seen = new Set<string>()
    for (const receiver of names) {
      if (seen.has(receiver))
        ctx.addIssue({
          code: 'custom',
          path: [],
          message: `receiver name "${receiver}" is used twice`,
        })
      seen.add(receiver)
    }
    routing.routes.forEach((route, index) =>
      route.to.forEach((target, at) => {
        if (!seen.has(target))
          ctx.addIssue({
            code: 'custom',
            path: ['routes', index, 'to', at],
            message: `no receiver named "${target}" (slack, pagerduty or webhooks)`,
          })
      }),
    )
  })
  .prefault({})

export type AlertRouting = z.output<typeof alertRoutingSchema>

/** The fields of each receiver list that hold a secret (`secret` in the schema above). */
export const SECRET_FIELDS = {
  slack: ['webhook_url'],
  pagerduty: ['routing_key'],
  webhooks: ['url', 'secret'],
} as const

/**
 * `${NAME}` in a secret, replaced from the environment, and `${file:PATH}` by the file's
 * content (trailing newline dropped); a missing variable or file is an error naming the field.
 */
export function resolveSecret(
  value: string,
  field: string,
  env: Record<string, string | undefined>,
): string {
  const fromFiles = value.replace(/\$\{file:([^}]+)\}/g, (_, path: string) => {
    try {
      return readFileSync(path, 'utf8').replace(/\r?\n$/, '')
    } catch (error) {
      throw new Error(
        `${field}: the secret file ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      )
    }
  })
  return fromFiles.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, variable: string) => {
    const found = env[variable]
    if (found === undefined || found === '')
      throw new Error(`${field}: the environment variable ${variable} is not set`)
    return found
  })
}

const FAMILY_ALIASES: Record<string, string> = {
  policy_violation: 'policy',
  budget_exceeded: 'budget',
  loop_detected: 'loop',
  spend_anomaly: 'anomaly',
}

function typeMatches(wanted: string, type: string): boolean {
  const family = FAMILY_ALIASES[wanted] ?? wanted
  return type === family || type.startsWith(`${family}.`)
}

/** The receiver names an alert goes to. `attribution` is what the evidence says of the call. */
export function receiversFor(
  routing: AlertRouting,
  alert: Alert,
  attribution: {
    tenant?: string | undefined
    team?: string | undefined
    agent?: string | undefined
  },
): string[] {
  if (routing.routes.length === 0) {
    if (alert.severity === 'info') return []
    const slack = routing.slack.map((r) => r.name)
    return alert.severity === 'critical'
      ? [...routing.pagerduty.map((r) => r.name), ...slack]
      : slack
  }
  const to = new Set<string>()
  for (const route of routing.routes) {
    if (route.severity !== undefined && route.severity !== alert.severity) continue
    if (route.type !== undefined && !typeMatches(route.type, alert.type)) continue
    if (route.tenant !== undefined && route.tenant !== attribution.tenant) continue
    if (route.team !== undefined && route.team !== attribution.team) continue
    if (route.agent !== undefined && route.agent !== attribution.agent) continue
    for (const receiver of route.to) to.add(receiver)
  }
  return [...to]
}
