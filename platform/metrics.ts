import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { AuditSinkStats } from '../processors/audit/audit-sink.ts'
import type { ConsumerLagListener } from '../processors/ingest/kafka-source.ts'
import type { PipelineMetrics, ProcessorObserver } from '../processors/ingest/pipeline-metrics.ts'
import type { Dimension, SpendView, ViewQuery } from '../processors/windows/spend-windows.ts'
import type { WindowName } from '../processors/windows/window-spans.ts'
import { boundedSpend } from './spend-series.ts'

/** Prometheus metrics of a running pipeline (GET /metrics). */
export interface Metrics {
  render(): Promise<{ contentType: string; text: string }>
}

export interface MetricsOptions {
  /** Node.js process metrics (CPU, memory, event loop, GC) beside the pipeline's own. */
  process: boolean
  spend: {
    /** Windows of the live spend gauges. */
    windows: readonly WindowName[]
    /** Dimensions whose keys get a spend gauge. */
    dimensions: readonly Dimension[]
    /** Keys per window and dimension with a series of their own (see `boundedSpend`). */
    maxKeys: number
  }
}

/** What the exposition reads at each scrape: the pipeline's own state, never a copy of it. */
export interface MetricSources {
  pipeline(): PipelineMetrics
  audit(): AuditSinkStats
  /** Events accepted and not yet audited (the in-process queue; 0 on Kafka). */
  queued(): number
  ready(): boolean
  /** Live spend of the keys this process holds. */
  spend(query: ViewQuery): SpendView
  /** The pipeline's clock, for the spend windows. */
  now(): number
}

/** What the pipeline tells the metrics as it goes (histograms, lags, commands). */
export interface MetricObservers extends Required<ProcessorObserver> {
  /** An audit insert: its rows and how long it took. */
  auditBatch(rows: number, seconds: number): void
  consumerLag: ConsumerLagListener
  /** A command appended to the control log. */
  command(command: { action: string; rule?: string | undefined }): void
  /** The answer to the items of one HTTP ingest request (`/v1/events`, `/v1/traces`). */
  ingested(route: string, counts: { accepted: number; duplicates: number; rejected: number }): void
}

export interface PipelineMetricsExporter extends Metrics, MetricObservers {
  /** Starts reading `sources` at each scrape; until then only observations are exposed. */
  read(sources: MetricSources): void
}

const AUDIT_ROWS_BUCKETS = [1, 10, 50, 100, 500, 1000, 5000, 10_000, 50_000]
const AUDIT_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const DELAY_SECONDS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900]

/**
 * The metrics of one pipeline, on a registry of its own (not prom-client's global one, so
 * several pipelines in one process, as in tests, keep theirs apart). Counts are read from the
 * pipeline's counters when scraped; histograms, consumer lag and commands are observed. Names
 * and labels are listed in docs/metrics.md.
 */
export function createMetrics(options: MetricsOptions): PipelineMetricsExporter {
  const registry = new Registry()
  if (options.process) collectDefaultMetrics({ register: registry })
  let sources: MetricSources | undefined
  const registers = [registry]

  /** A counter whose value is read from the pipeline at each scrape. */
  const readCounter = (name: string, help: string, read: (s: MetricSources) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset()
        if (sources) this.inc(read(sources))
      },
    })
  /** The same, one series per key of a count record. */
  const readCounters = (
    name: string,
    help: string,
    label: string,
    read: (s: MetricSources) => Record<string, number>,
  ) =>
    new Counter({
      name,
      help,
      labelNames: [label],
      registers,
      collect() {
        this.reset()
        if (!sources) return
        for (const [value, count] of Object.entries(read(sources)))
          this.inc({ [label]: value }, count)
      },
    })
  const readGauge = (name: string, help: string, read: (s: MetricSources) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(sources ? read(sources) : 0)
      },
    })

  readCounter(
    'spendguard_events_received_total',
    'Records handed to the processor.',
    (s) => s.pipeline().received,
  )
  readCounter(
    'spendguard_events_audited_total',
    'Events written to the audit by this process (answered accepted).',
    (s) => s.pipeline().audited,
  )
  readCounter(
    'spendguard_events_duplicates_total',
    'Events dropped because their event_id was already audited.',
    (s) => s.pipeline().duplicates,
  )
  readCounters(
    'spendguard_events_dead_lettered_total',
    'Records sent to the dead-letter sink, by code.',
    'code',
    (s) => s.pipeline().deadLetteredByCode,
  )
  readCounter(
    'spendguard_events_late_total',
    'Audited events that arrived later than the allowed lateness.',
    (s) => s.pipeline().late,
  )
  readCounters(
    'spendguard_events_unpriced_total',
    'Audited calls with no price, by reason.',
    'reason',
    (s) => s.pipeline().unpricedByReason,
  )
  readCounters(
    'spendguard_alerts_total',
    'Alerts raised by the detectors, by type.',
    'type',
    (s) => s.pipeline().alertsByType,
  )
  readCounter(
    'spendguard_audit_insert_retries_total',
    'Audit inserts retried.',
    (s) => s.audit().insertRetries,
  )
  readCounter(
    'spendguard_audit_rows_refused_total',
    'Audit rows the store refused for good.',
    (s) => s.audit().rowsRefused,
  )
  readGauge(
    'spendguard_queue_depth',
    'Events accepted by the in-process queue and not yet audited (0 on Kafka).',
    (s) => s.queued(),
  )
  readGauge(
    'spendguard_audit_buffered_rows',
    'Rows waiting in the audit sink.',
    (s) => s.audit().buffered,
  )
  readGauge('spendguard_ready', '1 when input is being consumed (GET /readyz), else 0.', (s) =>
    s.ready() ? 1 : 0,
  )

  const spend = options.spend
  new Gauge({
    name: 'spendguard_spend_usd',
    help:
      'Live spend in USD per key of the keys this process holds, by window and dimension; ' +
      `beyond the ${spend.maxKeys} most expensive keys the rest are summed under key "__other__".`,
    labelNames: ['window', 'dimension', 'tenant', 'key'],
    registers,
    collect() {
      this.reset()
      if (!sources) return
      const asOf = sources.now()
      for (const window of spend.windows)
        for (const dimension of spend.dimensions) {
          const view = sources.spend({ dimension, window, asOf })
          for (const { tenant, key, usd } of boundedSpend(view.items, spend.maxKeys))
            this.set({ window, dimension, tenant, key }, usd)
        }
    },
  })

  const lag = new Gauge({
    name: 'spendguard_kafka_consumer_lag',
    help: 'Records between the committed offset and the partition end seen at the last fetch.',
    labelNames: ['topic', 'partition'],
    registers,
  })
  const commands = new Counter({
    name: 'spendguard_control_commands_total',
    help: 'Commands appended to the control log since start, by action and by who issued them.',
    labelNames: ['action', 'issued_by'],
    registers,
  })
  const httpItems = new Counter({
    name: 'spendguard_http_ingest_items_total',
    help: 'Items of HTTP ingest requests by route and answer (rejected items never reach the pipeline).',
    labelNames: ['route', 'status'],
    registers,
  })
  const auditRows = new Histogram({
    name: 'spendguard_audit_batch_rows',
    help: 'Rows per audit batch, before ids already audited are dropped from it.',
    buckets: AUDIT_ROWS_BUCKETS,
    registers,
  })
  const auditSeconds = new Histogram({
    name: 'spendguard_audit_batch_seconds',
    help: 'Time to write one audit batch (id lookup and insert), retries included.',
    buckets: AUDIT_SECONDS_BUCKETS,
    registers,
  })
  const detectionDelay = new Histogram({
    name: 'spendguard_detection_delay_seconds',
    help: 'Processing time minus event time of the calls that raised an alert.',
    buckets: DELAY_SECONDS_BUCKETS,
    registers,
  })

  return {
    read(next) {
      sources = next
    },
    async render() {
      return { contentType: registry.contentType, text: await registry.metrics() }
    },
    ingested(route, counts) {
      for (const status of ['accepted', 'duplicates', 'rejected'] as const)
        if (counts[status] > 0)
          httpItems.inc(
            { route, status: status === 'duplicates' ? 'duplicate' : status },
            counts[status],
          )
    },
    auditBatch(rows, seconds) {
      auditRows.observe(rows)
      auditSeconds.observe(seconds)
    },
    alertRaised(delayMs) {
      detectionDelay.observe(delayMs / 1000)
    },
    consumerLag(topic, partition, records) {
      const labels = { topic, partition: String(partition) }
      if (records === undefined) lag.remove(labels)
      else lag.set(labels, records)
    },
    command(command) {
      commands.inc({ action: command.action, issued_by: command.rule ? 'rule' : 'person' })
    },
  }
}
