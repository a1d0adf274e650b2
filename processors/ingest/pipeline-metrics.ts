/**
 * Counters of the live pipeline, shown on /v1/status, logged at shutdown and read by the
 * Prometheus exposition (platform/metrics.ts) when it is scraped. Each counts what a settled
 * batch did, so a batch that fails and comes again is counted once.
 */
export interface PipelineMetrics {
  /** Records handed to the processor. */
  received: number
  /** Rows this process added to the audit (what HTTP answers `accepted`). */
  audited: number
  duplicates: number
  deadLettered: number
  /** Dead letters by their code (`VALIDATION_FAILED`, `DECODE_FAILED`, ...). */
  deadLetteredByCode: Record<string, number>
  unpriced: number
  /** Unpriced calls by the pricer's code (`unknown_model`, `no_usage`, ...). */
  unpricedByReason: Record<string, number>
  late: number
  /** Alerts the detectors raised (a batch judged again counts them again). */
  alerts: number
  /** The same alerts by type (`budget.threshold`, `loop.retry`, ...). */
  alertsByType: Record<string, number>
}

export function createPipelineMetrics(): PipelineMetrics {
  return {
    received: 0,
    audited: 0,
    duplicates: 0,
    deadLettered: 0,
    deadLetteredByCode: {},
    unpriced: 0,
    unpricedByReason: {},
    late: 0,
    alerts: 0,
    alertsByType: {},
  }
}

/** Adds one to `key` of a count record. */
export function countInto(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1
}

/**
 * What the processor reports as it goes, for histograms that need each observation (counts
 * are read from `PipelineMetrics` instead).
 */
export interface ProcessorObserver {
  /**
   * An alert raised by a settled batch, with its detection delay: the processing time of the
   * batch minus the event time of the call that raised it.
   */
  alertRaised?(delayMs: number): void
}
