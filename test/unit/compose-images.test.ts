import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { IMAGES } from '../support/images.ts'

describe('docker-compose.yml', () => {
  const compose = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')
  const images = [...compose.matchAll(/^\s+image:\s*(\S+)\s*$/gm)].map((m) => m[1])

  it('uses exactly the images the testcontainers path pins', () => {
    expect(images.sort()).toEqual(Object.values(IMAGES).sort())
  })

  it('points SpendGuard at the compose Kafka and ClickHouse', () => {
    expect(compose).toMatch(/SPENDGUARD_KAFKA_BROKERS: kafka:29092/)
    expect(compose).toMatch(/SPENDGUARD_CLICKHOUSE_URL: http:\/\/clickhouse:8123/)
  })
})
