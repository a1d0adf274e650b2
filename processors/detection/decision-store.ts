import type { ClickHouseClient } from '@clickhouse/client'
import type { Alert } from '../../alerts/alert.ts'
import { toClickHouseTime } from '../audit/audit-row.ts'
import { classifyStoreError } from '../audit/audit-store.ts'
import type { CommandRequest, Decisions } from './detection.ts'

/**
 * Where the decisions of a batch go before its audit rows are written: the `alerts` and
 * `command_requests` tables, the alerts topic (or the in-process feed), whatever follows them.
 * `record` resolves once they are durable; ids are deterministic, so recording the same
 * decisions again (a retried batch) adds nothing.
 */
export interface DecisionSink {
  record(decisions: Decisions): Promise<void>
}

export function isEmpty(decisions: Decisions): boolean {
  return decisions.alerts.length === 0 && decisions.commands.length === 0
}

/** Timestamp of an ISO string for a DateTime64(3) column. */
const at = (iso: string): string => toClickHouseTime(Date.parse(iso))

function alertRow(alert: Alert, recordedAt: string): Record<string, unknown> {
  const evidence = alert.evidence as { tenant?: string; rule?: string }
  return {
    alert_id: alert.alert_id,
    dedup_key: alert.dedup_key,
    occurred_at: at(alert.occurred_at),
    tenant_id: evidence.tenant ?? 'default',
    type: alert.type,
    severity: alert.severity,
    rule: evidence.rule ?? alert.type,
    scope_kind: alert.scope.kind,
    scope_id: alert.scope.id,
    summary: alert.summary,
    evidence: JSON.stringify(alert.evidence),
    recorded_at: recordedAt,
  }
}

function commandRow(command: CommandRequest, recordedAt: string): Record<string, unknown> {
  return {
    command_id: command.command_id,
    alert_id: command.alert_id,
    issued_at: at(command.issued_at),
    expires_at: command.expires_at === null ? null : at(command.expires_at),
    tenant_id: command.tenant,
    action: command.action,
    scope_kind: command.scope.kind,
    scope_id: command.scope.id,
    calls_per_minute: command.calls_per_minute ?? null,
    model: command.model ?? null,
    issuer: command.issuer,
    rule: command.rule,
    reason: command.reason,
    evidence: JSON.stringify(command.evidence),
    recorded_at: recordedAt,
  }
}

/** The ClickHouse tables of migration 0009 (server or chDB). */
export function createClickHouseDecisionSink(
  client: ClickHouseClient,
  now: () => number,
): DecisionSink {
  return {
    async record(decisions) {
      const recordedAt = toClickHouseTime(now())
      try {
        if (decisions.alerts.length > 0)
          await client.insert({
            table: 'alerts',
            values: decisions.alerts.map((alert) => alertRow(alert, recordedAt)),
            format: 'JSONEachRow',
          })
        if (decisions.commands.length > 0)
          await client.insert({
            table: 'command_requests',
            values: decisions.commands.map((command) => commandRow(command, recordedAt)),
            format: 'JSONEachRow',
          })
      } catch (error) {
        throw classifyStoreError(error, 'insert alerts')
      }
    },
  }
}

/** Recent alerts kept in memory, newest last: the in-process alerts feed of the embedded mode. */
export class AlertFeed implements DecisionSink {
  readonly #alerts: Alert[] = []
  readonly #seen = new Set<string>()
  readonly #listeners = new Set<(alert: Alert) => void>()

  constructor(private readonly capacity = 1000) {}

  record(decisions: Decisions): Promise<void> {
    for (const alert of decisions.alerts) {
      if (this.#seen.has(alert.alert_id)) continue
      this.#seen.add(alert.alert_id)
      this.#alerts.push(alert)
      if (this.#alerts.length > this.capacity) this.#seen.delete(this.#alerts.shift()!.alert_id)
      for (const listener of this.#listeners) listener(alert)
    }
    return Promise.resolve()
  }

  recent(limit = 100): Alert[] {
    return this.#alerts.slice(-limit)
  }

  /** Called for each new alert (the alert routing of the alerts issue subscribes here). */
  subscribe(listener: (alert: Alert) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
}

/** Several sinks in order: each must hold the decisions before the next is asked. */
export function allOf(sinks: DecisionSink[]): DecisionSink {
  return {
    async record(decisions) {
      for (const sink of sinks) await sink.record(decisions)
    },
  }
}

/** The columns of the alerts table an Alert is read back from (`a.` qualified where joined). */
const alertColumns = (table = '') =>
  `toString(${table}alert_id) AS alert_id, ${table}dedup_key AS dedup_key, ${table}type AS type,
   toString(${table}severity) AS severity, ${table}scope_kind AS scope_kind,
   ${table}scope_id AS scope_id, ${table}summary AS summary,
   toString(toUnixTimestamp64Milli(${table}occurred_at)) AS occurred_ms, ${table}evidence AS evidence`
const ALERT_COLUMNS = alertColumns()

interface AlertRow {
  alert_id: string
  dedup_key: string
  type: string
  severity: Alert['severity']
  scope_kind: string
  scope_id: string
  summary: string
  occurred_ms: string
  evidence: string
}

/** An alert as the alerts table holds it (evidence as JSON text, the time in ms). */
function alertOf(row: AlertRow): Alert {
  return {
    alert_id: row.alert_id,
    dedup_key: row.dedup_key,
    type: row.type,
    severity: row.severity,
    scope: { kind: row.scope_kind, id: row.scope_id },
    summary: row.summary,
    occurred_at: new Date(Number(row.occurred_ms)).toISOString(),
    evidence: JSON.parse(row.evidence) as Alert['evidence'],
  }
}

/**
 * The alerts recorded since `sinceMs` (epoch ms), oldest first: what the detectors of a
 * restarted process take back (`DetectionEngine.remember`).
 */
export async function readRecentAlerts(
  client: ClickHouseClient,
  sinceMs: number,
): Promise<Alert[]> {
  try {
    const result = await client.query({
      query: `SELECT ${ALERT_COLUMNS}
        FROM alerts FINAL WHERE occurred_at >= fromUnixTimestamp64Milli({since:Int64}) ORDER BY occurred_at`,
      query_params: { since: sinceMs },
      format: 'JSONEachRow',
    })
    return (await result.json<AlertRow>()).map(alertOf)
  } catch (error) {
    throw classifyStoreError(error, 'read alerts')
  }
}

/** The latest `limit` alerts (of one tenant when given), newest first (the dashboard). */
export async function readLatestAlerts(
  client: ClickHouseClient,
  limit: number,
  tenant?: string,
): Promise<Alert[]> {
  try {
    const result = await client.query({
      query: `SELECT ${ALERT_COLUMNS}
        FROM alerts FINAL WHERE {tenant:String} = '' OR tenant_id = {tenant:String}
        ORDER BY occurred_at DESC, alert_id LIMIT {limit:UInt32}`,
      query_params: { limit, tenant: tenant ?? '' },
      format: 'JSONEachRow',
    })
    return (await result.json<AlertRow>()).map(alertOf)
  } catch (error) {
    throw classifyStoreError(error, 'read alerts')
  }
}

/**
 * Alerts notified at a receiver (a delivered trigger) and not resolved there since: what the
 * rollover and resumes may still resolve after a restart, with the receivers told.
 */
export async function readOpenAlerts(
  client: ClickHouseClient,
  sinceMs: number,
): Promise<Array<{ alert: Alert; receivers: string[] }>> {
  const result = await client.query({
    query: `SELECT ${alertColumns('a.')}, d.receivers AS receivers
      FROM (
        SELECT alert_id, groupArray(receiver) AS receivers FROM (
          SELECT alert_id, receiver FROM alert_deliveries
          WHERE at >= fromUnixTimestamp64Milli({since:Int64})
          GROUP BY alert_id, receiver
          HAVING countIf(action = 'trigger' AND status = 'delivered') > 0
            AND countIf(action = 'resolve' AND status = 'delivered') = 0
        ) GROUP BY alert_id
      ) AS d
      INNER JOIN (SELECT * FROM alerts FINAL WHERE occurred_at >= fromUnixTimestamp64Milli({since:Int64})) AS a
        ON a.alert_id = d.alert_id`,
    query_params: { since: sinceMs },
    format: 'JSONEachRow',
  })
  return (await result.json<AlertRow & { receivers: string[] }>()).map((row) => ({
    alert: alertOf(row),
    receivers: row.receivers,
  }))
}

/**
 * The outbox: alerts recorded since `sinceMs` with the receivers that already have a delivery
 * row for them (the router sends to the others: the process stopped with them queued).
 */
export async function readUndelivered(
  client: ClickHouseClient,
  sinceMs: number,
): Promise<Array<{ alert: Alert; done: Set<string> }>> {
  const result = await client.query({
    query: `SELECT ${alertColumns('a.')}, d.receivers AS receivers
      FROM (SELECT * FROM alerts FINAL WHERE recorded_at >= fromUnixTimestamp64Milli({since:Int64})) AS a
      LEFT JOIN (
        SELECT alert_id, groupUniqArray(receiver) AS receivers FROM alert_deliveries
        WHERE action = 'trigger' AND at >= fromUnixTimestamp64Milli({since:Int64}) GROUP BY alert_id
      ) AS d ON a.alert_id = d.alert_id
      ORDER BY a.recorded_at, a.occurred_at`,
    query_params: { since: sinceMs },
    format: 'JSONEachRow',
  })
  return (await result.json<AlertRow & { receivers: string[] }>()).map((row) => ({
    alert: alertOf(row),
    done: new Set(row.receivers),
  }))
}
