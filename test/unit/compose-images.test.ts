import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { IMAGES, MONITORING_IMAGES } from '../support/images.ts'

describe('docker-compose.yml', () => {
  const compose = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')
  const images = [...compose.matchAll(/^\s+image:\s*(\S+)\s*$/gm)].map((m) => m[1])

  it('uses exactly the images pinned for the testcontainers path and the monitoring', () => {
    expect(images.sort()).toEqual(
      [...Object.values(IMAGES), ...Object.values(MONITORING_IMAGES)].sort(),
    )
  })

  it('points SpendGuard at the compose Kafka and ClickHouse', () => {
    expect(compose).toMatch(/SPENDGUARD_KAFKA_BROKERS: kafka:29092/)
    expect(compose).toMatch(/SPENDGUARD_CLICKHOUSE_URL: http:\/\/clickhouse:8123/)
  })
})
