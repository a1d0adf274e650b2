/** Counters of the live pipeline, exposed on /healthz and in logs. */
export interface PipelineMetrics {
  received: number
  audited: number
  duplicates: number
  deadLettered: number
  unpriced: number
  late: number
  /** Alerts the detectors raised (a batch judged again counts them again). */
  alerts: number
}

export function createPipelineMetrics(): PipelineMetrics {
  return {
    received: 0,
    audited: 0,
    duplicates: 0,
    deadLettered: 0,
    unpriced: 0,
    late: 0,
    alerts: 0,
  }
}
