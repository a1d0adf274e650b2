import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { loadConfig, parseConfig, topicNames } from '../../platform/config.ts'
import { ConfigError } from '../../platform/errors.ts'

describe('configuration', () => {
  it('runs on embedded defaults with no file and no environment', () => {
    const config = loadConfig({ env: {} })
    expect(config.kafka.brokers).toEqual([])
    expect(config.clickhouse.url).toBeUndefined()
    expect(config.clickhouse.dataDir).toBe('./data')
    expect(config.http.port).toBe(8787)
    expect(config.pipeline.allowedLatenessMs).toBe(120_000)
  })

  it('parses the sample config shipped in the repository', () => {
    const document: unknown = JSON.parse(
      readFileSync(new URL('../../spendguard.example.json', import.meta.url), 'utf8'),
    )
    expect(() => parseConfig(document)).not.toThrow()
  })

  it('lets the environment override the file, and command-line values override both', () => {
    const config = loadConfig({
      env: {
        SPENDGUARD_KAFKA_BROKERS: 'k1:9092, k2:9092',
        SPENDGUARD_HTTP_PORT: '9000',
        SPENDGUARD_KAFKA_TOPIC_PREFIX: 'prod.',
      },
      overrides: [{ path: ['http', 'port'], value: 9100 }],
    })
    expect(config.kafka.brokers).toEqual(['k1:9092', 'k2:9092'])
    expect(config.http.port).toBe(9100)
    expect(topicNames(config)).toEqual({
      llmCalls: 'prod.llm-calls',
      spendDeltas: 'prod.spend-deltas',
      dlq: 'prod.dlq',
      alerts: 'prod.alerts',
      control: 'prod.control',
    })
  })

  it('names the bad field when validation fails', () => {
    expect(() => parseConfig({ http: { port: 70_000 }, audit: { batchSize: 0 } })).toThrow(
      ConfigError,
    )
    expect(() => parseConfig({ http: { port: 70_000 } })).toThrow(/http\.port/)
    expect(() => parseConfig({ clickhouse: { url: 'not a url' } })).toThrow(/clickhouse\.url/)
    expect(() => loadConfig({ env: { SPENDGUARD_HTTP_PORT: 'eighty' } })).toThrow(
      /SPENDGUARD_HTTP_PORT/,
    )
  })

  it('refuses an unknown key, naming its path, so a typo is not silently ignored', () => {
    expect(() => parseConfig({ kafka: { broker: ['k1:9092'] } })).toThrow(
      /invalid configuration: kafka\.broker: unrecognized key/,
    )
    expect(() =>
      parseConfig({
        kafka: { sasl: { mechanism: 'plain', username: 'u', password: 'p', pasword: 'p' } },
      }),
    ).toThrow(/kafka\.sasl\.pasword/)
    expect(() => parseConfig({ clickhous: {} })).toThrow(/clickhous: unrecognized key/)
    expect(() =>
      loadConfig({ env: {}, overrides: [{ path: ['http', 'prot'], value: 9000 }] }),
    ).toThrow(/http\.prot/)
  })

  it('still fills in the defaults of a section that is absent or partly given', () => {
    const config = parseConfig({ kafka: { brokers: ['k1:9092'] } })
    expect(config.kafka).toMatchObject({ brokers: ['k1:9092'], groupId: 'spendguard-processor' })
    expect(config.audit.batchSize).toBe(1000)
    expect(parseConfig({})).toEqual(parseConfig(undefined))
  })
})
