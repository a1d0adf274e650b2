import { ConfigError } from '../platform/errors.ts'
import { createAlertRouter, resolveLifted, type AlertRouter } from '../alerts/alert-router.ts'
import {
  auditedKeySpend,
  budgetsNearLimit,
  digestJobs,
  resolveSubsided,
  retentionJob,
  rolloverJob,
} from '../alerts/alert-jobs.ts'
import { startSchedules, type ScheduledJob, type ScheduleRuns } from '../alerts/schedules.ts'
import { createReceivers } from '../alerts/receivers.ts'
import { toClickHouseTime } from '../processors/audit/audit-row.ts'
import { budgetUsageFrom } from '../processors/detection/budget-usage.ts'
import { hostname, userInfo } from 'node:os'
import { join, resolve } from 'node:path'
import { recordConfigChanges } from '../processors/audit/config-changes.ts'
import { createMetrics, type PipelineMetricsExporter } from '../platform/metrics.ts'
import type { Config } from '../platform/config.ts'
import {
  createAuditStoreClient,
  type AuditStoreTarget,
  type ClickHouseClient,
} from '../platform/clickhouse.ts'
import type { Clock } from '../platform/clock.ts'
import type { Logger } from '../platform/logger.ts'
import { createScheduler } from '../platform/scheduler.ts'
import { createReadOnlyQueries, type ReadOnlyQueries } from '../platform/sql/read-only-queries.ts'
import { createAuditSink, type AuditSink } from '../processors/audit/audit-sink.ts'
import { loadAuditedIdFilter, withAuditedIdFilter } from '../processors/audit/audited-id-filter.ts'
import { repairDerivedTables } from '../processors/audit/derived-tables-repair.ts'
import { createClickHouseAuditStore } from '../processors/audit/audit-store.ts'
import { migrate } from '../processors/audit/migrations.ts'
import type { EventBus, Readiness } from '../processors/ingest/event-bus.ts'
import type { EventProcessor } from '../processors/ingest/event-processor.ts'
import type { Pricer } from '../processors/pricing/pricer.ts'
import { createPricing } from '../processors/pricing/pricing-setup.ts'
import type { SpendView, ViewQuery } from '../processors/windows/spend-windows.ts'
import {
  AlertFeed,
  allOf,
  createClickHouseDecisionSink,
  readOpenAlerts,
  readRecentAlerts,
  readUndelivered,
} from '../processors/detection/decision-store.ts'
import { loadOrCreateSigningKey } from '../processors/control/command-signer.ts'
import { ControlPlane } from '../processors/control/control-plane.ts'
import { wireEmbedded } from './embedded-wiring.ts'
import { wireKafka } from './kafka-wiring.ts'

/**
 * The running pipeline, wired from one validated config: the composition root that
 * `spendguard start` and the end-to-end tests share.
 */
export interface Pipeline {
  readonly bus: EventBus
  readonly processor: EventProcessor
  readonly sink: AuditSink
  readonly pricer: Pricer
  readonly store: AuditStoreTarget
  readonly client: ClickHouseClient
  /** Read-only SQL over the audit, on a connection of its own (the reader user on a server). */
  readonly queries: ReadOnlyQueries
  /** The subset of `ids` that already have an audit row. */
  auditedEventIds(ids: string[]): Promise<Set<string>>
  /** The clock the pipeline reads; the HTTP ingest checks event times against it too. */
  readonly clock: Clock
  /** 'kafka' when brokers are configured, 'embedded' otherwise. */
  readonly transport: 'kafka' | 'embedded'
  /** Events accepted by the in-process transport and still waiting for the audit (0 on Kafka). */
  queued(): number
  /** Live spend of the keys this process holds (all of them embedded). */
  spend(query: ViewQuery): SpendView
  /** What the windows hold, for /v1/status. */
  windowsStatus(): Record<string, unknown>
  /** Whether input is being consumed (GET /readyz). */
  readiness(): Readiness
  /** Signed control commands: issued, resumed, served to guards. */
  readonly control: ControlPlane
  /** Settles with the error when the input can no longer be consumed (a consumer crash). */
  readonly fatal: Promise<unknown>
  /** Prometheus metrics (GET /metrics). */
  readonly metrics?: PipelineMetricsExporter
  start(): Promise<void>
  /** Drains the bus, flushes the sink, closes every client. Idempotent. */
  stop(): Promise<void>
}

/** The pricer of a configuration; what a loaded public price list left out is logged. */
export async function createPricerFromConfig(config: Config, logger?: Logger): Promise<Pricer> {
  const pricing = await createPricing(config.pricing)
  const report = pricing.userListReport
  if (report && logger) {
    logger.info(
      { loaded: report.loaded, skipped: report.skipped.length, file: config.pricing.catalogFile },
      'price list loaded',
    )
    for (const skipped of report.skipped.slice(0, 50))
      logger.warn(skipped, 'price list entry not loaded')
  }
  return pricing.pricer
}

/** Migrations run as the admin user on a server (the writer may only insert). */
async function runMigrations(config: Config, writer: ClickHouseClient, logger: Logger) {
  const migrationsLogger = logger.child({ component: 'migrations' })
  if (!config.clickhouse.url || !config.clickhouse.admin) return migrate(writer, migrationsLogger)
  const admin = createAuditStoreClient(config.clickhouse, { role: 'admin' }).client
  try {
    await migrate(admin, migrationsLogger)
  } finally {
    await admin.close()
  }
}

/** The alert router of a configuration with receivers; deliveries go to alert_deliveries. */
function createRouterFromConfig(
  config: Config,
  client: ClickHouseClient,
  logger: Logger,
  clock: Clock,
): AlertRouter | undefined {
  const routing = config.alerts
  if (routing.slack.length + routing.pagerduty.length + routing.webhooks.length === 0)
    return undefined
  let receivers
  try {
    receivers = createReceivers(routing, process.env)
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error))
  }
  return createAlertRouter({
    routing,
    receivers,
    logger: logger.child({ component: 'alerts' }),
    now: () => clock.now(),
    // unref: a receiver that stays down must not keep a stopping process alive.
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()),
    record: async (delivery) => {
      await client.insert({
        table: 'alert_deliveries',
        format: 'JSONEachRow',
        values: [{ ...delivery, at: toClickHouseTime(delivery.at) }],
      })
    },
  })
}

/** Scheduled runs in the `schedule_runs` table. */
function scheduleRunsIn(client: ClickHouseClient): ScheduleRuns {
  return {
    async last(job) {
      const result = await client.query({
        query: `SELECT toUnixTimestamp64Milli(max(due_at)) AS due, count() AS runs
          FROM schedule_runs WHERE job = {job:String}`,
        query_params: { job },
        format: 'JSONEachRow',
      })
      const [row] = await result.json<{ due: string; runs: string }>()
      return row && Number(row.runs) > 0 ? Number(row.due) : undefined
    },
    async record(run) {
      await client.insert({
        table: 'schedule_runs',
        format: 'JSONEachRow',
        values: [
          {
            job: run.job,
            due_at: toClickHouseTime(run.dueAt),
            ran_at: toClickHouseTime(run.ranAt),
            outcome: run.outcome,
          },
        ],
      })
    },
  }
}

export async function createPipeline(
  config: Config,
  logger: Logger,
  clock: Clock,
): Promise<Pipeline> {
  const pricer = await createPricerFromConfig(config, logger)
  const { client, target, rawInsert } = createAuditStoreClient(config.clickhouse)
  const closers: Array<() => Promise<void>> = [() => client.close()]
  try {
    await runMigrations(config, client, logger)
    // Its own connection: reads never share a session (or, on a server, a user) with writes.
    const reader = createAuditStoreClient(config.clickhouse, { role: 'reader' }).client
    closers.push(() => reader.close())
    const queries = createReadOnlyQueries({
      client: reader,
      kind: target.kind,
      limits: config.query,
    })
    let auditStore = createClickHouseAuditStore(client, rawInsert)
    if (target.kind === 'embedded') {
      const auditLogger = logger.child({ component: 'audit-sink' })
      // An insert cut short by a hard kill can leave the views' tables (the id index, the
      // rollups) without its rows, or with rows the audit lacks: they are made to agree with
      // the audit before the id filter is loaded and any input is taken.
      await repairDerivedTables(client, auditLogger)
      // This process is the audit's one writer: a filter of its ids saves looking up ids that
      // cannot be there (the lookup reads most of llm_call_ids for random ids).
      auditStore = withAuditedIdFilter(auditStore, await loadAuditedIdFilter(client, auditLogger))
    }
    const metrics = createMetrics(config.metrics)
    const sink = createAuditSink({
      store: auditStore,
      logger: logger.child({ component: 'audit-sink' }),
      batchSize: config.audit.batchSize,
      flushIntervalMs: config.audit.flushIntervalMs,
      recentIdsCapacity: config.audit.recentIdsCapacity,
      onBatchWritten: (rows, seconds) => metrics.auditBatch(rows, seconds),
    })
    closers.unshift(() => sink.close())

    let onFatal: (error: unknown) => void = () => {}
    const fatal = new Promise<unknown>((resolve) => (onFatal = resolve))
    const alertFeed = new AlertFeed()
    const control = new ControlPlane(
      client,
      loadOrCreateSigningKey(
        config.control.signingKeyFile ??
          join(resolve(config.clickhouse.dataDir), 'control-signing-key.pem'),
        config.control.keyId,
      ),
      () => clock.now(),
    )
    const decisions = allOf([
      createClickHouseDecisionSink(client, () => clock.now()),
      // Commands requested by rules are signed and logged with the batch's decisions.
      control,
      alertFeed,
    ])
    const router = createRouterFromConfig(config, client, logger, clock)
    /** The alerts whose block is still in force: their incidents have not cleared. */
    const blockedAlerts = () => new Set(control.active().map((command) => command.alert_id))
    const embedded = config.kafka.brokers.length === 0
    if (router) {
      // Embedded the feed of this process; on Kafka the alerts topic (see kafka-wiring).
      if (embedded) alertFeed.subscribe((alert) => router.route(alert))
      // A lifted block resolves the alert it answered (PagerDuty: the incident).
      // On Kafka every process hears of a resume: the one that served it resolves what it
      // holds, the others what they routed themselves (each took back every open alert at
      // start, so resolving those too would tell the receivers once per process).
      control.onLifted(({ commands, actor, here }) => {
        const lifted = new Set(commands.map((command) => command.alert_id))
        try {
          // By every alert told under the incident (its first included): the block may answer
          // a repeat.
          resolveLifted(
            router,
            { lifted, blocked: blockedAlerts() },
            `the block was lifted by ${actor}`,
            here ? 'all' : 'routed',
          )
        } catch (error) {
          logger.error({ err: error, commands: [...lifted] }, 'could not resolve the lifted alerts')
        }
      })
      // At shutdown, deliveries in progress get a while to finish (receivers may be down).
      closers.unshift(() =>
        Promise.race([router.drain(), new Promise<void>((r) => setTimeout(r, 10_000).unref())]),
      )
    }
    const deps = {
      config,
      logger,
      clock,
      pricer,
      sink,
      reader,
      decisions,
      onFatal,
      alertRouter: router,
      observers: metrics,
    }
    const transport = config.kafka.brokers.length > 0 ? await wireKafka(deps) : wireEmbedded(deps)
    closers.unshift(...transport.closers)
    if (transport.controlLog) control.useLog(transport.controlLog)
    const scheduler = createScheduler({ logger: logger.child({ component: 'scheduler' }) })
    closers.unshift(() => scheduler.stop())
    const { bus, processor } = transport
    metrics.read({
      pipeline: () => processor.metrics,
      audit: () => sink.stats(),
      queued: () => transport.queued(),
      ready: () => transport.readiness().ready,
      spend: (query) => transport.spend(query),
      now: () => clock.now(),
    })

    let stopping: Promise<void> | undefined
    return {
      bus,
      processor,
      sink,
      pricer,
      store: target,
      client,
      queries,
      auditedEventIds: (ids) => auditStore.existingEventIds(ids),
      clock,
      transport: config.kafka.brokers.length > 0 ? 'kafka' : 'embedded',
      readiness: () => transport.readiness(),
      control,
      queued: () => transport.queued(),
      spend: (query) => transport.spend(query),
      windowsStatus: () => transport.status(),
      fatal,
      metrics,
      async start() {
        const changed = await recordConfigChanges(
          client,
          config,
          `spendguard start (${userInfo().username}@${hostname()})`,
          clock.now(),
        )
        if (changed.length > 0)
          logger.info({ sections: changed }, 'configuration changes recorded in config_changes')
        scheduler.every('window sweep', 60_000, () => transport.sweep())
        const jobs: ScheduledJob[] = [
          retentionJob(client, (alert) => {
            logger.warn({ alert }, alert.summary)
            router?.route(alert)
          }),
        ]
        if (router) {
          const open = await readOpenAlerts(client, clock.now() - 33 * 24 * 60 * 60_000)
          router.reopen(open)
          logger.info({ alerts: open.length }, 'alerts notified and not resolved yet')
          if (config.kafka.brokers.length === 0) {
            // Embedded, the alerts table is the outbox: what a stop left queued goes out now.
            const undelivered = await readUndelivered(client, clock.now() - 24 * 60 * 60_000)
            for (const { alert, done } of undelivered) router.route(alert, done)
            logger.info({ alerts: undelivered.length }, 'alert outbox read')
          }
          jobs.push(
            rolloverJob(router),
            // Budgets from the audit's rollup: on Kafka the leader's windows hold only the
            // keys it owns.
            ...digestJobs(router, client, config.alerts.digests, async (now) =>
              budgetsNearLimit(await budgetUsageFrom(config.budgets, auditedKeySpend(client), now)),
            ),
          )
          scheduler.every('subsided alerts', 60_000, () => {
            const resolved = resolveSubsided(router, clock.now(), config.alerts.resolve_after)
            if (resolved > 0) logger.info({ resolved }, 'loop and anomaly alerts resolved')
          })
        }
        await startSchedules({
          scheduler,
          runs: scheduleRunsIn(client),
          jobs,
          now: () => clock.now(),
          logger: logger.child({ component: 'schedules' }),
          ...(embedded ? {} : { leads: () => transport.leads() }),
        })
        const commands = await control.load()
        logger.info({ ...commands, keyId: control.publicKey.id }, 'control commands loaded')
        const liftedBefore = control.takeLiftedAtLoad()
        // A resume whose resolve was still queued when the process stopped: the alert came
        // back open, and the block it answered is already lifted. Embedded only: on Kafka
        // every process took back every open alert, so each would resolve it again.
        if (router && embedded && liftedBefore.length > 0) {
          const lifted = new Set(liftedBefore.flatMap((l) => l.commands.map((c) => c.alert_id)))
          const resolved = resolveLifted(
            router,
            { lifted, blocked: blockedAlerts() },
            'the block was lifted before a restart',
          )
          if (resolved > 0) logger.info({ resolved }, 'alerts whose block was lifted resolved')
        }
        // Counted by the process that issued each command (on Kafka every instance reads all).
        control.onAppended((command) => metrics.command(command))
        // What the detectors had fired before a restart (a month back covers every period
        // whose thresholds a detector still holds): not alerted again.
        const fired = await readRecentAlerts(client, clock.now() - 33 * 24 * 60 * 60_000)
        processor.detection.remember(fired)
        logger.info({ alerts: fired.length }, 'detectors took back the alerts they had raised')
        await transport.start()
      },
      stop() {
        stopping ??= (async () => {
          // Past the deadline a store that is still down stops being retried: on Kafka the
          // batch stays uncommitted, embedded the queue is parked in the dead-letter file.
          const deadline = setTimeout(() => {
            logger.error(
              { deadlineMs: config.pipeline.shutdownTimeoutMs },
              'shutdown deadline passed',
            )
            transport.abandon()
            sink.abandonRetries()
          }, config.pipeline.shutdownTimeoutMs)
          // Every step runs even when an earlier one fails; the first failure is reported.
          const failures: unknown[] = []
          for (const close of closers) {
            await close().catch((error: unknown) => {
              logger.error({ err: error }, 'shutdown step failed')
              failures.push(error)
            })
          }
          clearTimeout(deadline)
          if (failures.length > 0) throw failures[0]
        })()
        return stopping
      },
    }
  } catch (error) {
    for (const close of closers)
      await close().catch((closeError: unknown) => logger.warn({ err: closeError }, 'close failed'))
    throw error
  }
}
