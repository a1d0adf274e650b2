import type { Config } from '../platform/config.ts'
import { ConfigError } from '../platform/errors.ts'
import {
  describeAction,
  type ControlCommand,
  type ControlScopeKind,
} from '../producers/guard/control-command.ts'
import { callPipeline, requireRunningPipeline } from './running-pipeline.ts'
import { renderTable } from './text-table.ts'

export const KILL_USAGE = `usage: spendguard kill (--agent A | --feature F | --user U | --session S | --model M | --tenant T)
                       [--tenant T] [--ttl 1h] [--throttle N | --downgrade MODEL] --reason "..."
                       [--data-dir ./data] [--config FILE]

Blocks a scope now (or throttles it to N calls per minute, or routes it to another model): a
signed command that every guard following this pipeline obeys before its next LLM call. With
several scope flags the narrowest applies (session, user, feature, agent, model, tenant).
--ttl lifts it by itself (90s, 15m, 1h, 2d); without it, it lasts until \`spendguard resume\`.
The command is audited with the operating-system user who issued it.

example: spendguard kill --agent summarizer --tenant acme --ttl 1h --reason "runaway loop"
`

export const RESUME_USAGE = `usage: spendguard resume (--id COMMAND_ID | --agent A | --feature F | --user U | --session S | --model M | --tenant T)
                         [--tenant T] [--reason "..."] [--data-dir ./data] [--config FILE]

Lifts one command (--id, as \`spendguard controls\` lists it) or every command on a scope,
whether a person or a rule issued it.

example: spendguard resume --agent blog-outline --tenant acme --reason "model fixed"
`

export const CONTROLS_USAGE = `usage: spendguard controls [--format table|json] [--data-dir ./data] [--config FILE]

The commands in force on the running pipeline: what, on which scope, why, by whom, until when.

example: spendguard controls --format json
`

export interface ScopeFlags {
  agent?: string | undefined
  feature?: string | undefined
  user?: string | undefined
  session?: string | undefined
  model?: string | undefined
  tenant?: string | undefined
}

const NARROWEST_FIRST: ControlScopeKind[] = ['session', 'user', 'feature', 'agent', 'model']

/** The scope the flags name: the narrowest given; the tenant alone when only it is given. */
export function scopeOf(flags: ScopeFlags): { kind: ControlScopeKind; id: string } | undefined {
  for (const kind of NARROWEST_FIRST) {
    const id = flags[kind as keyof ScopeFlags]
    if (id !== undefined) return { kind, id }
  }
  return flags.tenant === undefined ? undefined : { kind: 'tenant', id: flags.tenant }
}

export async function runKill(
  config: Config,
  flags: ScopeFlags & { ttl?: string; throttle?: string; downgrade?: string; reason?: string },
): Promise<ControlCommand> {
  const scope = scopeOf(flags)
  if (!scope) throw new ConfigError(`kill needs a scope\n\n${KILL_USAGE}`)
  if (!flags.reason) throw new ConfigError(`kill needs --reason (it is audited)\n\n${KILL_USAGE}`)
  if (flags.throttle !== undefined && flags.downgrade !== undefined)
    throw new ConfigError('--throttle and --downgrade: give one')
  const callsPerMinute = flags.throttle === undefined ? undefined : Number(flags.throttle)
  if (callsPerMinute !== undefined && (!Number.isInteger(callsPerMinute) || callsPerMinute < 1))
    throw new ConfigError(
      `--throttle: "${flags.throttle}" is not a positive number of calls per minute`,
    )
  const running = requireRunningPipeline(config.clickhouse.dataDir)
  const response = await callPipeline(running, '/v1/controls', {
    method: 'POST',
    admin: true,
    body: {
      action: callsPerMinute !== undefined ? 'throttle' : flags.downgrade ? 'downgrade' : 'block',
      scope,
      ...(flags.tenant === undefined ? {} : { tenant: flags.tenant }),
      ...(callsPerMinute === undefined ? {} : { calls_per_minute: callsPerMinute }),
      ...(flags.downgrade === undefined ? {} : { model: flags.downgrade }),
      ...(flags.ttl === undefined ? {} : { ttl: flags.ttl }),
      reason: flags.reason,
    },
  })
  return ((await response.json()) as { command: ControlCommand }).command
}

export async function runResume(
  config: Config,
  flags: ScopeFlags & { id?: string; reason?: string },
): Promise<ControlCommand> {
  const running = requireRunningPipeline(config.clickhouse.dataDir)
  if (flags.id !== undefined) {
    const response = await callPipeline(running, `/v1/controls/${encodeURIComponent(flags.id)}`, {
      method: 'DELETE',
      admin: true,
    })
    return ((await response.json()) as { command: ControlCommand }).command
  }
  const scope = scopeOf(flags)
  if (!scope) throw new ConfigError(`resume needs --id or a scope\n\n${RESUME_USAGE}`)
  const response = await callPipeline(running, '/v1/controls/resume', {
    method: 'POST',
    admin: true,
    body: {
      scope,
      ...(flags.tenant === undefined ? {} : { tenant: flags.tenant }),
      reason: flags.reason ?? 'resumed',
    },
  })
  return ((await response.json()) as { command: ControlCommand }).command
}

export async function runControls(config: Config): Promise<ControlCommand[]> {
  const running = requireRunningPipeline(config.clickhouse.dataDir)
  const response = await callPipeline(running, '/v1/controls')
  return ((await response.json()) as { commands: ControlCommand[] }).commands
}

export function formatCommand(command: ControlCommand): string {
  return `${describeAction(command)} ${command.scope.kind} ${command.scope.id} (tenant ${command.tenant ?? '-'}) until ${command.expires_at ?? 'resumed'}: ${command.command_id}`
}

export function formatControls(commands: ControlCommand[]): string {
  if (commands.length === 0) return 'no commands in force\n'
  return `${renderTable(
    ['command', 'action', 'scope', 'tenant', 'until', 'issuer', 'reason'],
    commands.map((c) => [
      c.command_id,
      c.action === 'throttle'
        ? `throttle ${c.calls_per_minute}/min`
        : c.action === 'downgrade'
          ? `downgrade to ${c.model}`
          : c.action,
      `${c.scope.kind}:${c.scope.id}`,
      c.tenant ?? '',
      c.expires_at ?? 'resumed',
      c.issuer,
      c.reason,
    ]),
  )}\n`
}
