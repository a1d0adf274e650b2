import type { ClickHouseClient } from '@clickhouse/client'
import {
  controlCommandSchema,
  type ControlCommand,
  type ControlScopeKind,
} from '../../producers/guard/control-command.ts'
import { GuardState } from '../../producers/guard/guard-state.ts'
import { toClickHouseTime } from '../audit/audit-row.ts'
import { classifyStoreError } from '../audit/audit-store.ts'
import type { DecisionSink } from '../detection/decision-store.ts'
import type { CommandRequest } from '../detection/detection.ts'
import type { CommandSigner } from './command-signer.ts'

/** One command of the log, with its position (the SSE event id guards resume from). */
export interface LoggedCommand {
  seq: number
  command: ControlCommand
}

/** A command a person asks for (CLI `kill`, `POST /v1/controls`). */
export interface ManualCommand {
  action: 'block' | 'throttle' | 'downgrade'
  scope: { kind: ControlScopeKind; id: string }
  tenant?: string | undefined
  calls_per_minute?: number | undefined
  model?: string | undefined
  reason: string
  /** How long it lasts; undefined: until resumed. */
  ttlMs?: number | undefined
}

/**
 * The control plane of one `spendguard start`: signs commands (rules' requests and people's),
 * appends them to the `control_commands` table before anyone sees them, and serves them in
 * order to guards (`since`, `subscribe`). Detector requests carry deterministic ids, so a
 * replayed batch issues nothing new. It also answers which commands are in force.
 */
export class ControlPlane implements DecisionSink {
  readonly #log: LoggedCommand[] = []
  readonly #ids = new Set<string>()
  readonly #listeners = new Set<(entry: LoggedCommand) => void>()
  readonly #streamEnds = new Set<() => void>()
  #closing = false
  readonly #state: GuardState
  #writing: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly client: ClickHouseClient,
    private readonly signer: CommandSigner,
    private readonly now: () => number,
  ) {
    this.#state = new GuardState([{ id: signer.keyId, publicKey: signer.publicKeyPem }])
  }

  get publicKey(): { id: string; pem: string } {
    return { id: this.signer.keyId, pem: this.signer.publicKeyPem }
  }

  /** Reads the log back from the table (at start). */
  async load(): Promise<{ loaded: number; skipped: number }> {
    let skipped = 0
    const result = await this.client.query({
      query: 'SELECT seq, body FROM control_commands ORDER BY seq',
      format: 'JSONEachRow',
    })
    for (const row of await result.json<{ seq: string; body: string }>()) {
      const parsed = controlCommandSchema.safeParse(JSON.parse(row.body))
      // A row this version cannot read keeps its position but is not served (nor fatal).
      if (parsed.success) this.#remember({ seq: Number(row.seq), command: parsed.data })
      else skipped++
    }
    return { loaded: this.#log.length, skipped }
  }

  /** DecisionSink: the command requests of a batch become signed commands. */
  async record(decisions: { commands: CommandRequest[] }): Promise<void> {
    for (const request of decisions.commands) {
      if (this.#ids.has(request.command_id)) continue
      const { calls_per_minute, model } = request
      await this.#append(
        this.signer.sign({
          command_id: request.command_id,
          action: request.action,
          tenant: request.tenant,
          scope: { kind: request.scope.kind as ControlScopeKind, id: request.scope.id },
          ...(calls_per_minute === undefined ? {} : { calls_per_minute }),
          ...(model === undefined ? {} : { model }),
          issuer: request.issuer,
          reason: request.reason,
          rule: request.rule,
          evidence: request.evidence,
          issued_at: request.issued_at,
          expires_at: request.expires_at,
        }),
      )
    }
  }

  /** A person's command; `actor` is who asked (a token's name, `cli:<user>`). */
  async issue(request: ManualCommand, actor: string): Promise<ControlCommand> {
    const at = this.now()
    return this.#append(
      this.signer.sign({
        command_id: crypto.randomUUID(),
        action: request.action,
        // A tenant scope names its tenant.
        tenant: request.scope.kind === 'tenant' ? request.scope.id : (request.tenant ?? 'default'),
        scope: request.scope,
        ...(request.calls_per_minute === undefined
          ? {}
          : { calls_per_minute: request.calls_per_minute }),
        ...(request.model === undefined ? {} : { model: request.model }),
        issuer: actor,
        reason: request.reason,
        issued_at: new Date(at).toISOString(),
        expires_at: request.ttlMs === undefined ? null : new Date(at + request.ttlMs).toISOString(),
      }),
    )
  }

  /** Lifts one command (by id) or every command on a scope. */
  async resume(
    target: { commandId: string } | { scope: ManualCommand['scope']; tenant?: string | undefined },
    actor: string,
    reason: string,
  ): Promise<ControlCommand> {
    let scope: ControlCommand['scope']
    let tenant: string | undefined
    let resumes: string | undefined
    if ('commandId' in target) {
      const found = this.#log.find((entry) => entry.command.command_id === target.commandId)
      if (!found || found.command.action === 'resume')
        throw new UnknownCommandError(target.commandId)
      scope = found.command.scope
      tenant = found.command.tenant
      resumes = target.commandId
    } else {
      scope = target.scope
      tenant = target.tenant ?? 'default'
    }
    const at = this.now()
    return this.#append(
      this.signer.sign({
        command_id: crypto.randomUUID(),
        action: 'resume',
        ...(tenant === undefined ? {} : { tenant }),
        scope,
        ...(resumes === undefined ? {} : { resumes }),
        issuer: actor,
        reason,
        issued_at: new Date(at).toISOString(),
        expires_at: null,
      }),
    )
  }

  /** The commands in force now. */
  active(): ControlCommand[] {
    return this.#state.active(this.now())
  }

  /** The log after position `seq` (0: all of it). */
  since(seq: number): LoggedCommand[] {
    return this.#log.filter((entry) => entry.seq > seq)
  }

  subscribe(listener: (entry: LoggedCommand) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Streams to end when the API shuts down (a stream never ends by itself). */
  onShutdown(end: () => void): () => void {
    this.#streamEnds.add(end)
    return () => this.#streamEnds.delete(end)
  }

  /** Ends every open stream, and refuses new ones: guards reconnect to the next process. */
  endStreams(): void {
    this.#closing = true
    for (const end of [...this.#streamEnds]) end()
  }

  /** True once the API shuts down. */
  get closing(): boolean {
    return this.#closing
  }

  /** Written one at a time, so positions follow the table's order. */
  #append(command: ControlCommand): Promise<ControlCommand> {
    const next = this.#writing.then(async () => {
      if (this.#ids.has(command.command_id)) return command
      const entry = { seq: (this.#log[this.#log.length - 1]?.seq ?? 0) + 1, command }
      try {
        await this.client.insert({
          table: 'control_commands',
          format: 'JSONEachRow',
          values: [
            {
              seq: entry.seq,
              command_id: command.command_id,
              action: command.action,
              tenant_id: command.tenant ?? '',
              scope_kind: command.scope.kind,
              scope_id: command.scope.id,
              issuer: command.issuer,
              reason: command.reason,
              issued_at: toClickHouseTime(Date.parse(command.issued_at)),
              expires_at:
                command.expires_at === null
                  ? null
                  : toClickHouseTime(Date.parse(command.expires_at)),
              body: JSON.stringify(command),
              recorded_at: toClickHouseTime(this.now()),
            },
          ],
        })
      } catch (error) {
        throw classifyStoreError(error, 'insert control_commands')
      }
      this.#remember(entry)
      for (const listener of this.#listeners) listener(entry)
      return command
    })
    this.#writing = next.catch(() => {})
    return next
  }

  #remember(entry: LoggedCommand): void {
    this.#log.push(entry)
    this.#ids.add(entry.command.command_id)
    this.#state.apply(entry.command, Number.NEGATIVE_INFINITY)
  }
}

export class UnknownCommandError extends Error {
  constructor(readonly commandId: string) {
    super(`no command ${commandId} to resume`)
  }
}
