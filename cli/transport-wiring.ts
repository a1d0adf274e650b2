import type { AlertRouter } from '../alerts/alert-router.ts'
import type { ControlLog } from '../processors/control/control-log.ts'
import type { ClickHouseClient } from '../platform/clickhouse.ts'
import type { Clock } from '../platform/clock.ts'
import type { Config } from '../platform/config.ts'
import type { Logger } from '../platform/logger.ts'
import type { MetricObservers } from '../platform/metrics.ts'
import type { AuditSink } from '../processors/audit/audit-sink.ts'
import type { EventBus, Readiness } from '../processors/ingest/event-bus.ts'
import type { EventProcessor } from '../processors/ingest/event-processor.ts'
import type { DecisionSink } from '../processors/detection/decision-store.ts'
import type { Pricer } from '../processors/pricing/pricer.ts'
import type { SpendView, ViewQuery } from '../processors/windows/spend-windows.ts'

/** What a transport's wiring gets from the composition root. */
export interface TransportDeps {
  config: Config
  logger: Logger
  clock: Clock
  pricer: Pricer
  sink: AuditSink
  /** Reads the audit (window rebuilds). */
  reader: ClickHouseClient
  /** Where detectors' alerts and command requests go (the tables, the in-process feed). */
  decisions: DecisionSink
  /**
   * The alert router, when receivers are configured. On Kafka it follows the `alerts` topic;
   * embedded, the in-process alert feed.
   */
  alertRouter?: AlertRouter | undefined
  /** Called once when the input can no longer be consumed. */
  onFatal(error: unknown): void
  /** Where detection delays and consumer lags are reported (the metrics). */
  observers?: MetricObservers | undefined
}

/** The transport-specific half of a pipeline: Kafka (scaled out) or in-process (embedded). */
export interface Transport {
  readonly bus: EventBus
  readonly processor: EventProcessor
  /** Where control commands are logged, when not in the audit store (Kafka: the topic). */
  readonly controlLog?: ControlLog
  /** Shutdown steps, run in this order before the sink and the clients close. */
  readonly closers: Array<() => Promise<void>>
  /** Live spend of the keys this process holds. */
  spend(query: ViewQuery): SpendView
  /** Builds the live state from the audit, then starts consuming. */
  start(): Promise<void>
  /** Drops window buckets no view can reach (scheduled). */
  sweep(): void
  /** At the shutdown deadline: stop retrying, park what is left. */
  abandon(): void
  /** Events accepted and not yet audited (in-process only). */
  queued(): number
  /** Whether input is consumed and owned state is being followed (GET /readyz). */
  readiness(): Readiness
  /**
   * Whether this process leads the scheduled jobs: always embedded; on Kafka the holder of
   * partition 0 of the alerts topic (or of the input, without alert receivers).
   */
  leads(): boolean
  /** What /v1/status shows about the windows. */
  status(): Record<string, unknown>
}

/** Common processor options of both transports. */
export function processorOptions(deps: TransportDeps) {
  return {
    pricer: deps.pricer,
    sink: deps.sink,
    clock: deps.clock,
    logger: deps.logger.child({ component: 'processor' }),
    allowedLatenessMs: deps.config.pipeline.allowedLatenessMs,
    rules: deps.config,
    decisions: deps.decisions,
    observer: deps.observers,
  }
}
