import { readFileSync } from 'node:fs'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { parseConfig } from '../../platform/config.ts'
import { createMetrics } from '../../platform/metrics.ts'

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8')

interface Target {
  datasource?: { type: string; uid: string }
  expr?: string
  rawSql?: string
}
interface Panel {
  type: string
  title: string
  datasource?: { type: string; uid: string }
  targets?: Target[]
}
const dashboard = JSON.parse(read('docs/grafana/dashboards/spendguard.json')) as {
  uid: string
  panels: Panel[]
  templating: { list: Array<{ name: string; type: string; query: unknown }> }
}
const compose = parseYaml(read('docker-compose.yml')) as {
  services: Record<
    string,
    { environment?: Record<string, string>; volumes?: string[]; depends_on?: unknown }
  >
}

/** Where compose mounts a file or directory of the repository in a service. */
function mountOf(service: string, source: string): string | undefined {
  const volume = compose.services[service]?.volumes?.find((v) => v.startsWith(`${source}:`))
  return volume?.split(':')[1]
}

describe('the Grafana dashboard', () => {
  it('queries only metrics that GET /metrics exposes', async () => {
    const metrics = createMetrics({ ...parseConfig({}).metrics, process: false })
    const exposed = new Set(
      parsePrometheusTextFormat((await metrics.render()).text).map((family) => family.name),
    )
    const queried = new Set(
      dashboard.panels
        .flatMap((panel) => panel.targets ?? [])
        .flatMap((target) => target.expr?.match(/spendguard_[a-z_]+/g) ?? [])
        .map((name) => name.replace(/_(bucket|sum|count)$/, '')),
    )
    expect(queried.size).toBeGreaterThan(10)
    for (const name of queried) expect(exposed, name).toContain(name)
  })

  it('reads its two data sources through variables, so it imports into any Grafana', () => {
    const variables = Object.fromEntries(
      dashboard.templating.list
        .filter((v) => v.type === 'datasource')
        .map((v) => [v.name, v.query]),
    )
    expect(variables).toEqual({
      prometheus: 'prometheus',
      clickhouse: 'grafana-clickhouse-datasource',
    })
    const sources = dashboard.panels
      .filter((panel) => panel.type !== 'row')
      .flatMap((panel) => [panel.datasource, ...(panel.targets ?? []).map((t) => t.datasource)])
    expect(new Set(sources.map((source) => `${source?.type} ${source?.uid}`))).toEqual(
      new Set(['prometheus ${prometheus}', 'grafana-clickhouse-datasource ${clickhouse}']),
    )
  })
})

describe('Grafana and Prometheus in docker-compose.yml', () => {
  it('provisions Grafana with the dashboard and the ClickHouse data source plugin', () => {
    const grafana = compose.services.grafana!
    expect(grafana.environment?.GF_PLUGINS_PREINSTALL_SYNC).toMatch(
      /^grafana-clickhouse-datasource(@[\d.]+)?$/,
    )
    expect(mountOf('grafana', './docs/grafana/provisioning/datasources')).toBe(
      '/etc/grafana/provisioning/datasources',
    )
    expect(mountOf('grafana', './docs/grafana/provisioning/dashboards')).toBe(
      '/etc/grafana/provisioning/dashboards',
    )
    const providers = parseYaml(read('docs/grafana/provisioning/dashboards/spendguard.yaml')) as {
      providers: Array<{ options: { path: string } }>
    }
    expect(providers.providers[0]!.options.path).toBe(
      mountOf('grafana', './docs/grafana/dashboards'),
    )

    const { datasources } = parseYaml(
      read('docs/grafana/provisioning/datasources/spendguard.yaml'),
    ) as {
      datasources: Array<{ type: string; jsonData: Record<string, unknown>; url?: string }>
    }
    const clickhouse = datasources.find((d) => d.type === 'grafana-clickhouse-datasource')
    expect(clickhouse?.jsonData).toMatchObject({
      host: 'clickhouse',
      port: 8123,
      protocol: 'http',
      username: 'spendguard_reader',
      defaultDatabase: 'spendguard',
    })
    expect(grafana.environment?.SPENDGUARD_READER_PASSWORD).toBeDefined()
    expect(datasources.find((d) => d.type === 'prometheus')?.url).toBe('http://prometheus:9090')
  })

  it('has Prometheus scrape SpendGuard with a read token', () => {
    expect(mountOf('prometheus', './docs/grafana/prometheus.yml')).toBe(
      '/etc/prometheus/prometheus.yml',
    )
    const prometheus = parseYaml(read('docs/grafana/prometheus.yml')) as {
      scrape_configs: Array<{
        metrics_path: string
        authorization: { credentials_file: string }
        static_configs: Array<{ targets: string[] }>
      }>
    }
    const [job] = prometheus.scrape_configs
    expect(job).toMatchObject({
      metrics_path: '/metrics',
      static_configs: [{ targets: ['spendguard:8787'] }],
    })
    expect(compose.services.prometheus?.environment?.SPENDGUARD_READ_TOKEN).toBe(
      compose.services.spendguard?.environment?.SPENDGUARD_READ_TOKEN,
    )
    expect(read('docker-compose.yml')).toContain(job!.authorization.credentials_file)
  })
})
