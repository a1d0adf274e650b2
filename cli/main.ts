import { COMMAND_USAGE } from './command-usage.ts'
import {
  CONTROLS_USAGE,
  formatCommand,
  formatControls,
  KILL_USAGE,
  RESUME_USAGE,
  runControls,
  runKill,
  runResume,
} from './controls-command.ts'
import { parseArgs } from 'node:util'
import { readFileSync } from 'node:fs'
import { loadConfig, type Config } from '../platform/config.ts'
import { ConfigError, SpendGuardError, ValidationError } from '../platform/errors.ts'
import { createLogger } from '../platform/logger.ts'
import { runDemo } from './demo-command.ts'
import { formatReplayTable, runReplay } from './replay-command.ts'
import {
  formatExplanation,
  formatPricingCheck,
  parseAt,
  runPricing,
  runPricingCheck,
} from './pricing-command.ts'
import { formatRepriceSummary, runReprice } from './reprice-command.ts'
import { REPORT_USAGE, reportCommand } from './report-command.ts'
import { actionableMessage } from './cli-errors.ts'
import { parseParams, runSql } from './sql-command.ts'
import { fetchStatus, formatStatus } from './status-command.ts'
import { formatReconcile, runReconcile } from './reconcile-command.ts'
import { DIMENSIONS } from '../processors/windows/spend-windows.ts'
import { WINDOWS } from '../processors/windows/window-spans.ts'
import { escapeControlCharacters } from './text-table.ts'
import { runStart } from './start-command.ts'
import { POLICY_CHECK_USAGE, runPolicyCheck } from './policy-check-command.ts'
import { createPricerFromConfig } from './runtime.ts'

const USAGE = `spendguard: cost governance for LLM agents

usage:
  spendguard start  [--host 127.0.0.1] [--port 8787] [--data-dir ./data] [--config FILE]
  spendguard demo   [--host 127.0.0.1] [--port 8787] [--data-dir ./data] [--rate 20] [--duration 0] [--config FILE]
  spendguard replay FILE|- [--format json|table] [--config FILE]
  spendguard sql "<query>" [--param name=value ...] [--format table|json|tsv|csv] [--data-dir ./data] [--config FILE]
  spendguard report NAME [--param name=value ...] [--format table|json|csv|tsv] [--data-dir ./data] [--config FILE]
  spendguard report --list [NAME] [--format table|json]
  spendguard status [--dimension agent] [--window 15m] [--limit 20] [--tenant T] [--watch] [--format table|json] [--data-dir ./data]
  spendguard reconcile [--since DATE] [--format table|json] [--data-dir ./data]
  spendguard pricing MODEL [--provider P] [--at DATE] [--format table|json] [--config FILE]
  spendguard pricing check FILE|- [--format table|json] [--config FILE]
  spendguard reprice --since DATE [--model ID] [--dry-run] [--format table|json] [--data-dir ./data]
  spendguard policy check DIR [--config FILE] [--format table|json]
  spendguard kill --agent A [--user U] [--session S] [--tenant T] [--ttl 1h] --reason "..."
  spendguard resume (--id COMMAND_ID | --agent A ...) [--reason "..."]
  spendguard controls [--format table|json]

Without Kafka brokers configured (SPENDGUARD_KAFKA_BROKERS or kafka.brokers in the config
file) the pipeline runs embedded: an in-process transport and chDB under --data-dir.
While \`spendguard start\` runs, sql, report, status, reconcile, kill, resume and controls with the same
--data-dir go through its HTTP API.

dimensions: ${DIMENSIONS.join(', ')}
windows:    ${WINDOWS.join(', ')}
`

const OPTIONS = {
  config: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  provider: { type: 'string' },
  since: { type: 'string' },
  model: { type: 'string' },
  'dry-run': { type: 'boolean' },
  at: { type: 'string' },
  'data-dir': { type: 'string' },
  format: { type: 'string' },
  rate: { type: 'string' },
  duration: { type: 'string' },
  seed: { type: 'string' },
  param: { type: 'string', multiple: true },
  list: { type: 'boolean' },
  dimension: { type: 'string' },
  window: { type: 'string' },
  limit: { type: 'string' },
  tenant: { type: 'string' },
  watch: { type: 'boolean' },
  agent: { type: 'string' },
  feature: { type: 'string' },
  user: { type: 'string' },
  session: { type: 'string' },
  ttl: { type: 'string' },
  throttle: { type: 'string' },
  downgrade: { type: 'string' },
  reason: { type: 'string' },
  id: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const

function intOption(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0)
    throw new ConfigError(`--${name}: "${raw}" is not a non-negative integer`)
  return value
}

function oneOf<T extends string>(
  name: string,
  raw: string | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (raw === undefined) return fallback
  if (!(allowed as readonly string[]).includes(raw))
    throw new ConfigError(`--${name}: "${raw}" is not one of ${allowed.join(', ')}`)
  return raw as T
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: OPTIONS,
    allowPositionals: true,
    strict: true,
  })
  const [command, ...rest] = positionals
  if (values.version) {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string
    }
    process.stdout.write(`${pkg.version}\n`)
    return 0
  }
  if (command === 'policy') return policyCheck(rest, values)
  const ownUsage: Record<string, string> = {
    ...COMMAND_USAGE,
    kill: KILL_USAGE,
    resume: RESUME_USAGE,
    controls: CONTROLS_USAGE,
    report: REPORT_USAGE,
  }
  if (values.help && command !== undefined && ownUsage[command] !== undefined) {
    process.stdout.write(ownUsage[command])
    return 0
  }
  if (values.help || !command || command === 'help') {
    process.stdout.write(USAGE)
    return command || values.help ? 0 : 2
  }
  const overrides: Array<{ path: string[]; value: unknown }> = []
  if (values.port !== undefined)
    overrides.push({ path: ['http', 'port'], value: intOption('port', values.port, 8787) })
  if (values.host !== undefined) overrides.push({ path: ['http', 'host'], value: values.host })
  if (values['data-dir'] !== undefined)
    overrides.push({ path: ['clickhouse', 'dataDir'], value: values['data-dir'] })
  const config: Config = loadConfig({ file: values.config, env: process.env, overrides })
  const logger = createLogger({ level: config.log.level })

  switch (command) {
    case 'start':
      await runStart(config, logger)
      return 0
    case 'demo':
      await runDemo(config, logger, {
        rate: intOption('rate', values.rate, 20),
        durationSeconds: intOption('duration', values.duration, 0),
        seed: intOption('seed', values.seed, 42),
        print: (text) => process.stdout.write(text),
      })
      return 0
    case 'replay': {
      const file = rest[0]
      if (!file) throw new ConfigError('replay needs a FILE (or - for standard input)')
      const format = oneOf('format', values.format, ['json', 'table'] as const, 'table')
      const report = await runReplay(config, file, process.stdin)
      process.stdout.write(
        format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatReplayTable(report),
      )
      return 0
    }
    case 'sql': {
      const query = rest[0]
      if (!query)
        throw new ConfigError(
          'sql needs a query, e.g. spendguard sql "SELECT count() FROM llm_calls"',
        )
      const format = oneOf(
        'format',
        values.format,
        ['table', 'json', 'tsv', 'csv'] as const,
        'table',
      )
      process.stdout.write(
        await runSql(config, query, format, {
          terminal: process.stdout.isTTY === true,
          params: parseParams(values.param ?? []),
        }),
      )
      return 0
    }
    case 'report':
      return reportCommand(
        config,
        {
          name: rest[0],
          list: values.list === true,
          params: values.param ?? [],
          format: values.format,
          now: Date.now(),
          terminal: process.stdout.isTTY === true,
        },
        { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) },
      )
    case 'status': {
      const format = oneOf('format', values.format, ['json', 'table'] as const, 'table')
      const options = {
        dimension: oneOf('dimension', values.dimension, DIMENSIONS, 'agent'),
        window: oneOf('window', values.window, WINDOWS, '15m'),
        limit: intOption('limit', values.limit, 20),
        tenant: values.tenant,
      }
      const show = async () => {
        const view = await fetchStatus(config, options)
        return format === 'json' ? `${JSON.stringify(view, null, 2)}\n` : formatStatus(view)
      }
      if (!values.watch) {
        process.stdout.write(await show())
        return 0
      }
      // Redraws every two seconds until Ctrl-C.
      for (;;) {
        const text = await show()
        process.stdout.write(`${process.stdout.isTTY ? '\x1b[2J\x1b[H' : ''}${text}`)
        await new Promise((resolve) => setTimeout(resolve, 2000))
      }
    }
    case 'kill': {
      const issued = await runKill(config, { ...values, model: values.model })
      process.stdout.write(`issued: ${formatCommand(issued)}\n`)
      return 0
    }
    case 'resume': {
      const issued = await runResume(config, values)
      process.stdout.write(`issued: ${formatCommand(issued)}\n`)
      return 0
    }
    case 'controls': {
      const format = oneOf('format', values.format, ['json', 'table'] as const, 'table')
      const commands = await runControls(config)
      process.stdout.write(
        format === 'json' ? `${JSON.stringify(commands, null, 2)}\n` : formatControls(commands),
      )
      return 0
    }
    case 'reconcile': {
      const format = oneOf('format', values.format, ['json', 'table'] as const, 'table')
      const report = await runReconcile(config, {
        now: Date.now(),
        ...(values.since ? { sinceMs: parseAt(values.since, Date.now()) } : {}),
        progress: (line) => process.stderr.write(`${line}\n`),
      })
      process.stdout.write(
        format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatReconcile(report),
      )
      return report.drifts.length === 0 ? 0 : 1
    }
    case 'reprice': {
      if (!values.since)
        throw new ConfigError(
          'reprice needs --since DATE, e.g. spendguard reprice --since 2026-11-01',
        )
      const format = oneOf('format', values.format, ['json', 'table'] as const, 'table')
      const dryRun = values['dry-run'] === true
      const summary = await runReprice(config, logger, {
        sinceMs: parseAt(values.since, Date.now()),
        ...(values.model ? { model: values.model } : {}),
        dryRun,
        now: Date.now(),
        progress: (line) => process.stderr.write(`${line}\n`),
      })
      process.stdout.write(
        format === 'json'
          ? `${JSON.stringify(summary, null, 2)}\n`
          : formatRepriceSummary(summary, dryRun),
      )
      return 0
    }
    case 'pricing': {
      const format = oneOf('format', values.format, ['json', 'table'] as const, 'table')
      if (rest[0] === 'check') {
        const file = rest[1]
        if (!file)
          throw new ConfigError('pricing check needs a FILE of events (or - for standard input)')
        const lines = await runPricingCheck(config, file, process.stdin, Date.now())
        process.stdout.write(
          format === 'json' ? `${JSON.stringify(lines, null, 2)}\n` : formatPricingCheck(lines),
        )
        return 0
      }
      const model = rest[0]
      if (!model)
        throw new ConfigError('pricing needs a MODEL, e.g. spendguard pricing o3 --at 2025-05-01')
      const explanation = await runPricing(config, {
        model,
        ...(values.provider ? { provider: values.provider } : {}),
        atMs: parseAt(values.at, Date.now()),
      })
      process.stdout.write(
        format === 'json'
          ? `${JSON.stringify(explanation, null, 2)}\n`
          : formatExplanation(explanation),
      )
      return explanation.status === 'priced' ? 0 : 1
    }
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`)
      return 2
  }
}

/**
 * `spendguard policy check DIR`, a CI gate. It exits 2 on input it cannot use, and a config it
 * cannot load or a bad argument is such input, so it loads its own config and answers 2 for
 * them rather than the 1 every other command gives.
 */
async function policyCheck(
  args: string[],
  values: { config?: string; format?: string; help?: boolean },
): Promise<number> {
  if (values.help) {
    process.stdout.write(POLICY_CHECK_USAGE)
    return 0
  }
  const [subcommand, dir] = args
  const refuse = (message: string, usage: string): number => {
    process.stderr.write(
      `spendguard: ${escapeControlCharacters(message, { keepNewlines: true })}\n${usage}`,
    )
    return 2
  }
  if (subcommand !== 'check')
    return refuse(`policy: unknown subcommand "${subcommand ?? ''}"`, `\n${POLICY_CHECK_USAGE}`)
  if (!dir)
    return refuse(
      'policy check needs a DIR of agent configuration files',
      `\n${POLICY_CHECK_USAGE}`,
    )
  let config: Config
  let format: 'table' | 'json'
  try {
    format = oneOf('format', values.format, ['table', 'json'] as const, 'table')
    config = loadConfig({ file: values.config, env: process.env })
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return refuse(error.message, '')
  }
  return runPolicyCheck({
    policy: config.policy,
    pricer: await createPricerFromConfig(config),
    dir,
    format,
    now: Date.now(),
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  })
}

// A reader that stops early (`spendguard replay big.jsonl | head`) closes the pipe: that ends
// the command quietly, as it does for any Unix tool, instead of an unhandled EPIPE.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0)
  throw error
})

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    if (
      error instanceof ValidationError ||
      error instanceof ConfigError ||
      error instanceof SpendGuardError
    ) {
      // Engine messages can quote the data: escape control characters before a terminal sees them.
      process.stderr.write(
        `spendguard: ${escapeControlCharacters(error.message, { keepNewlines: true })}\n`,
      )
    } else if (
      error instanceof TypeError &&
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`spendguard: ${error.message}\n\n${USAGE}`)
    } else if (error instanceof Error && (error as { code?: string }).code === 'ENOENT') {
      process.stderr.write(`spendguard: ${error.message}\n`)
    } else if (actionableMessage(error) !== undefined) {
      process.stderr.write(`spendguard: ${actionableMessage(error)}\n`)
    } else {
      process.stderr.write(
        `spendguard: unexpected error\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      )
    }
    process.exitCode = 1
  },
)
