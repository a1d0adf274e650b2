/** Prometheus metrics of a running pipeline (GET /metrics). */
export interface Metrics {
  render(): Promise<{ contentType: string; text: string }>
}
