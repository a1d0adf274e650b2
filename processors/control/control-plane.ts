import type { ClickHouseClient } from '@clickhouse/client'
import type { ControlCommand, ControlScopeKind } from '../../producers/guard/control-command.ts'
import { GuardState } from '../../producers/guard/guard-state.ts'
import type { DecisionSink } from '../detection/decision-store.ts'
import type { CommandRequest } from '../detection/detection.ts'
import type { CommandSigner } from './command-signer.ts'
import { recordControlRow, tableControlLog, type ControlLog } from './control-log.ts'

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
 * appends them to the log (the `control_commands` table embedded, the compacted control topic
 * on Kafka) before anyone sees them, and serves the log in order to guards (`since`,
 * `subscribe`). Detector requests carry deterministic ids, so a replayed batch issues nothing
 * new. It answers which commands are in force, and audits refused commands too.
 */
export class ControlPlane implements DecisionSink {
  readonly #log: LoggedCommand[] = []
  readonly #ids = new Set<string>()
  readonly #listeners = new Set<(entry: LoggedCommand) => void>()
  /** Told of each command this process appends (not of those other processes append). */
  readonly #appendListeners = new Set<(command: ControlCommand) => void>()
  readonly #streamEnds = new Set<() => void>()
  readonly #liftListeners = new Set<(lifted: Lifted) => void>()
  #closing = false
  readonly #state: GuardState
  #writing: Promise<unknown> = Promise.resolve()
  #loaded = false
  /** Appends waiting for the topic to deliver them back (Kafka), by position. */
  readonly #awaited = new Map<number, () => void>()
  /** Ids this process put on the topic, before the topic hands them back. */
  readonly #appended = new Set<string>()
  /** Ids this process is putting on the log, until the log hands them back. */
  readonly #issuing = new Set<string>()
  /** What the resumes read at load lifted, until taken (`takeLiftedAtLoad`). */
  #liftedAtLoad: Lifted[] = []

  constructor(
    private readonly client: ClickHouseClient,
    private readonly signer: CommandSigner,
    private readonly now: () => number,
    private log: ControlLog = tableControlLog(client, now),
    trustedKeys: ReadonlyArray<{ id: string; publicKey: string }> = [],
  ) {
    this.#state = new GuardState([
      { id: signer.keyId, publicKey: signer.publicKeyPem },
      ...trustedKeys.filter((key) => key.id !== signer.keyId),
    ])
  }

  get publicKey(): { id: string; pem: string } {
    return { id: this.signer.keyId, pem: this.signer.publicKeyPem }
  }

  /** Logs to `log` instead of the table (Kafka: the control topic); before `load` only. */
  useLog(log: ControlLog): void {
    if (this.#loaded) throw new Error('the control log is chosen before it is loaded')
    this.log = log
  }

  /**
   * Reads the log back (at start): the table, or the control topic from its beginning, which
   * is then followed for what other processes issue.
   */
  async load(): Promise<{ loaded: number; skipped: number }> {
    let skipped = 0
    await this.log.open((raw, seq) => {
      if (!this.#deliver(raw, seq) && !this.#loaded) skipped++
    })
    this.#loaded = true
    return { loaded: this.#log.length, skipped }
  }

  /**
   * A command read from the log. One that fails verification is not served: at load it is
   * counted (a row this version cannot read keeps its position), and once following (a
   * forgery on the topic) it is audited as refused.
   */
  #deliver(raw: unknown, seq: number): boolean {
    const last = this.#log[this.#log.length - 1]?.seq ?? 0
    if (seq <= last) return true
    // What a resume lifts is what was in force just before it.
    const lifting = this.#liftedBy(raw)
    const verdict = this.#state.apply(raw, Number.NEGATIVE_INFINITY)
    if (!verdict.ok) {
      if (this.#loaded)
        void this.refuse(
          typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : { raw },
          `control topic (position ${seq})`,
          `not obeyed: ${verdict.reason}`,
        ).catch(() => {})
      return false
    }
    // Served as received: a field this version does not know stays, and stays signed.
    const entry = { seq, command: raw as ControlCommand }
    this.#log.push(entry)
    this.#ids.add(entry.command.command_id)
    this.#awaited.get(seq)?.()
    for (const listener of this.#listeners) heedless(() => listener(entry))
    // Every process hears of every resume, whichever served it: each resolves the alerts it
    // routed.
    if (entry.command.action === 'resume') {
      const lifted = {
        commands: lifting,
        actor: entry.command.issuer,
        reason: entry.command.reason,
        here: this.#issuing.has(entry.command.command_id),
      }
      if (!this.#loaded) {
        if (lifting.length > 0) this.#liftedAtLoad.push(lifted)
      } else for (const listener of this.#liftListeners) heedless(() => listener(lifted))
    }
    this.#issuing.delete(entry.command.command_id)
    return true
  }

  /** The commands in force that `raw` lifts, when it is a resume. */
  #liftedBy(raw: unknown): ControlCommand[] {
    const command = raw as Partial<ControlCommand> | null
    if (typeof command !== 'object' || command === null || command.action !== 'resume') return []
    const { resumes, scope } = command
    // What was in force when it was issued: read back at load, a block may have expired since.
    const issuedAt = Date.parse(command.issued_at ?? '')
    const inForce = this.#state.active(Number.isNaN(issuedAt) ? this.now() : issuedAt)
    return inForce.filter((active) =>
      resumes !== undefined
        ? active.command_id === resumes
        : active.scope.kind === scope?.kind &&
          active.scope.id === scope?.id &&
          (active.tenant ?? 'default') === (command.tenant ?? 'default'),
    )
  }

  /**
   * Audits a command that was not issued: a person's request turned down, or a command on the
   * topic that failed verification. It is never served to guards.
   */
  async refuse(request: Record<string, unknown>, actor: string, refusal: string): Promise<void> {
    await recordControlRow(this.client, {
      seq: 0,
      command: { ...request, issuer: actor },
      status: 'refused',
      refusal,
      at: this.now(),
    })
  }

  /** DecisionSink: the command requests of a batch become signed commands. */
  async record(decisions: { commands: CommandRequest[] }): Promise<void> {
    for (const request of decisions.commands) {
      if (this.#ids.has(request.command_id)) continue
      const { calls_per_minute, model, limit_usd, spent_usd } = request
      await this.#append(
        this.signer.sign({
          command_id: request.command_id,
          action: request.action,
          tenant: request.tenant,
          scope: { kind: request.scope.kind as ControlScopeKind, id: request.scope.id },
          ...(calls_per_minute === undefined ? {} : { calls_per_minute }),
          ...(model === undefined ? {} : { model }),
          ...(limit_usd === undefined ? {} : { limit_usd }),
          ...(spent_usd === undefined ? {} : { spent_usd }),
          issuer: request.issuer,
          reason: request.reason,
          rule: request.rule,
          alert_id: request.alert_id,
          evidence: request.evidence,
          issued_at: request.issued_at,
          expires_at: request.expires_at,
        }),
        false,
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
      // As when issued: a tenant scope names its tenant.
      tenant = scope.kind === 'tenant' ? scope.id : (target.tenant ?? 'default')
    }
    const at = this.now()
    // Listeners hear of it when the log delivers it back (#deliver), as they do of the resumes
    // other processes issue.
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

  /**
   * What the resumes already in the log at load lifted, once: an alert a block answered may
   * still be open because the process that served the resume stopped before telling the
   * receivers (the resolve waits in memory, not in an outbox).
   */
  takeLiftedAtLoad(): Lifted[] {
    const lifted = this.#liftedAtLoad
    this.#liftedAtLoad = []
    return lifted
  }

  /** Told of the commands each resume lifted (to resolve the alerts they answered). */
  onLifted(listener: (lifted: Lifted) => void): () => void {
    this.#liftListeners.add(listener)
    return () => this.#liftListeners.delete(listener)
  }

  /** The commands in force now. */
  active(): ControlCommand[] {
    return this.#state.active(this.now())
  }

  /** The log after position `seq` (0: all of it). */
  since(seq: number): LoggedCommand[] {
    return this.#log.filter((entry) => entry.seq > seq)
  }

  /**
   * Calls `listener` with each command this process appends to the log (what it issued; on
   * Kafka, not what other instances issued, which `subscribe` also sees).
   */
  onAppended(listener: (command: ControlCommand) => void): () => void {
    this.#appendListeners.add(listener)
    return () => this.#appendListeners.delete(listener)
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

  /** Appended one at a time, so positions follow the log's order. */
  #append(command: ControlCommand, waitForReadBack = true): Promise<ControlCommand> {
    const next = this.#writing.then(async () => {
      if (this.#ids.has(command.command_id) || this.#appended.has(command.command_id))
        return command
      this.#issuing.add(command.command_id)
      const seq = await this.log.append(command, (this.#log[this.#log.length - 1]?.seq ?? 0) + 1)
      if (!this.log.follows) this.#deliver(command, seq)
      else {
        // Marked published only once audited: a failed insert is retried with the batch (the
        // topic takes the repeat under the same key, guards apply it once).
        await recordControlRow(this.client, { seq, command, status: 'issued', at: this.now() })
        this.#appended.add(command.command_id)
        // A person's command is answered once this process serves it too; a rule's batch
        // does not wait for the topic to come back round.
        if (waitForReadBack) await this.#deliveredBack(seq)
      }
      for (const listener of this.#appendListeners) listener(command)
      return command
    })
    this.#writing = next.catch(() => {})
    return next
  }

  /** Waits for the topic to hand an appended command back, so the log stays in topic order. */
  #deliveredBack(seq: number): Promise<void> {
    if ((this.#log[this.#log.length - 1]?.seq ?? 0) >= seq) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#awaited.delete(seq)
        reject(
          new Error(`command at position ${seq} is on the topic but was not read back in 10 s`),
        )
      }, 10_000)
      timer.unref()
      this.#awaited.set(seq, () => {
        clearTimeout(timer)
        this.#awaited.delete(seq)
        resolve()
      })
    })
  }

  async close(): Promise<void> {
    await this.log.close()
  }
}

/** What a resume lifted, and who asked. */
export interface Lifted {
  commands: ControlCommand[]
  actor: string
  reason: string
  /** Issued by this process (its resume call), not read from another's. */
  here: boolean
}

export class UnknownCommandError extends Error {
  constructor(readonly commandId: string) {
    super(`no command ${commandId} to resume`)
  }
}

/**
 * Runs a listener. Listeners handle (and log) their own failures; one that throws anyway must
 * not keep the log from being served, nor the other listeners from hearing.
 */
function heedless(listener: () => void): void {
  try {
    listener()
  } catch {
    // Isolated on purpose: see above.
  }
}
