/**
 * Container images, pinned in one place. docker-compose.yml uses the same tags
 * (test/unit/compose-images.test.ts checks it).
 */
export const IMAGES = {
  kafka: 'confluentinc/cp-kafka:7.9.1',
  clickhouse: 'clickhouse/clickhouse-server:25.3',
} as const

/** The monitoring of docker-compose.yml (docs/metrics.md); no test starts them. */
export const MONITORING_IMAGES = {
  prometheus: 'prom/prometheus:v3.12.0',
  grafana: 'grafana/grafana:13.0.1',
} as const
