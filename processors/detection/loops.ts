import type { LlmCall } from '../../schemas/llm-call.ts'
import type { CommandRequestSpec, Detection } from './detection.ts'
import type { Detector } from './detector.ts'
import type { LoopRules } from './rules.ts'
import { StagedMap, type StageCursor } from './staged-map.ts'

const SESSION_IDLE_MS = 24 * 60 * 60_000

/** The run of calls of one session the session rules judge. */
interface SessionState {
  last: number
  simhash?: bigint | undefined
  /** The similar-content run has alerted. */
  similarFired: boolean
  iterationFired: boolean
  /** Consecutive failures with non-decreasing tokens, and the tokens of the last one. */
  stall: number
  stallTokens: number
  stallFired: boolean
  /** Consecutive calls with rising input tokens: the run's first input and its length. */
  bloatFrom: number
  bloatCalls: number
  lastInput: number
  bloatFired: boolean
}

interface FingerprintState {
  times: number[]
  /** Event time until which a repeat of this burst is the same loop (no new alert). */
  quietUntil: number
  /** Event time until which the command of the last alert holds. */
  commandUntil: number
}

interface TraceState {
  last: number
  /** The last delegation of the trace (from -> to) and how many alternate in a row. */
  from: string
  to: string
  chain: number
  fired: boolean
}

function hamming(a: bigint, b: bigint): number {
  let x = a ^ b
  let bits = 0
  while (x !== 0n) {
    x &= x - 1n
    bits++
  }
  return bits
}

const tokensOf = (call: LlmCall): number => call.input_tokens + call.output_tokens
const failed = (call: LlmCall): boolean => call.status === 'error' || call.status === 'timeout'

/**
 * Runaway loops: the same agent sending the same request fingerprint more than
 * `fingerprint_repeats` times in `fingerprint_window_s`; consecutive calls of a session with
 * near-identical content (simhash); a session past its iteration cap; a stall (consecutive
 * failures with non-decreasing tokens); delegation ping-pong in one trace; context bloat (input
 * tokens rising call after call past a growth bound). Each fires once per episode.
 */
export function createLoopDetector(rules: LoopRules, cursor: StageCursor): Detector {
  const fingerprints = new StagedMap<string, FingerprintState>(cursor)
  const sessions = new StagedMap<string, SessionState>(cursor)
  const traces = new StagedMap<string, TraceState>(cursor)
  const windowMs = rules.fingerprint_window_s * 1000

  function command(
    scope: { kind: string; id: string },
    at: number,
  ): CommandRequestSpec | undefined {
    if (rules.on_detect !== 'throttle' && rules.on_detect !== 'block') return undefined
    return {
      action: rules.on_detect,
      scope,
      ...(rules.on_detect === 'throttle'
        ? { calls_per_minute: rules.throttle_calls_per_minute }
        : {}),
      expires_at: at + rules.command_minutes * 60_000,
    }
  }

  function loop(
    call: LlmCall,
    kind: string,
    scope: { kind: string; id: string },
    summary: string,
    evidence: { window: string; observed: string; threshold: string } & Record<string, unknown>,
    withCommand = true,
  ): Detection {
    const spec = withCommand ? command(scope, call.occurred_at) : undefined
    return {
      type: 'loop',
      rule: `loop:${kind}`,
      severity: rules.on_detect === 'log' ? 'info' : 'warning',
      tenant: call.tenant_id,
      scope,
      summary,
      episode: call.event_id,
      evidence: { ...evidence, event_ids: [call.event_id] },
      flag: `loop:${kind}`,
      ...(spec ? { command: spec } : {}),
    }
  }

  function fingerprintRule(call: LlmCall, found: Detection[]): void {
    const fingerprint = call.request_fingerprint
    if (fingerprint === undefined) return
    const key = `${call.tenant_id}|${call.agent_id}|${fingerprint}`
    const t = call.occurred_at
    const state = fingerprints.get(key)
    const times = (state?.times ?? []).filter((time) => time > t - windowMs)
    times.push(t)
    const quietUntil = state?.quietUntil ?? Number.NEGATIVE_INFINITY
    const fires = times.length > rules.fingerprint_repeats && t > quietUntil
    // A loop that goes on is raised again once per window (the alert router counts the repeats
    // into its next notification and resolves the alert once they stop); its command again
    // only once the last one has expired.
    const commandUntil = state?.commandUntil ?? Number.NEGATIVE_INFINITY
    const commands = fires && t >= commandUntil
    fingerprints.set(key, {
      // Only as many times as the rule needs to see.
      times: times.slice(-(rules.fingerprint_repeats + 1)),
      quietUntil: fires ? t + windowMs : quietUntil,
      commandUntil: commands ? t + rules.command_minutes * 60_000 : commandUntil,
    })
    if (!fires) return
    found.push(
      loop(
        call,
        'fingerprint',
        { kind: 'agent', id: call.agent_id },
        `agent ${call.agent_id} sent the same request ${times.length} times in ${rules.fingerprint_window_s} s`,
        {
          window: `${rules.fingerprint_window_s}s`,
          observed: String(times.length),
          threshold: `more than ${rules.fingerprint_repeats}`,
          request_fingerprint: fingerprint,
        },
        commands,
      ),
    )
  }

  function sessionRules(call: LlmCall, found: Detection[]): void {
    const session = call.session_id
    if (session === undefined) return
    const key = `${call.tenant_id}|${session}`
    const scope = { kind: 'session', id: session }
    const before = sessions.get(key)
    const input = call.input_tokens
    const next: SessionState = before
      ? { ...before, last: call.occurred_at }
      : {
          last: call.occurred_at,
          similarFired: false,
          iterationFired: false,
          stall: 0,
          stallTokens: 0,
          stallFired: false,
          bloatFrom: input,
          bloatCalls: 1,
          lastInput: input,
          bloatFired: false,
        }

    // Near-identical content, call after call.
    const simhash =
      call.content_simhash === undefined ? undefined : BigInt(`0x${call.content_simhash}`)
    if (simhash !== undefined && before?.simhash !== undefined) {
      const same = 64 - hamming(simhash, before.simhash)
      if (same / 64 > rules.simhash_similarity) {
        if (!next.similarFired) {
          next.similarFired = true
          found.push(
            loop(
              call,
              'similar_content',
              scope,
              `session ${session}: consecutive calls with near-identical content (${same} of 64 simhash bits agree)`,
              {
                window: 'consecutive calls',
                observed: (same / 64).toFixed(4),
                threshold: `more than ${rules.simhash_similarity}`,
              },
            ),
          )
        }
      } else next.similarFired = false
    }
    next.simhash = simhash ?? before?.simhash

    // Iteration cap.
    if (
      call.iteration !== undefined &&
      call.iteration > rules.max_iterations &&
      !next.iterationFired
    ) {
      next.iterationFired = true
      found.push(
        loop(
          call,
          'iterations',
          scope,
          `session ${session} is at iteration ${call.iteration}, past the cap of ${rules.max_iterations}`,
          {
            window: 'session',
            observed: String(call.iteration),
            threshold: `more than ${rules.max_iterations}`,
          },
        ),
      )
    }

    // Stall: failures in a row whose tokens do not go down.
    const tokens = tokensOf(call)
    if (failed(call) && (next.stall === 0 || tokens >= next.stallTokens)) {
      next.stall++
      next.stallTokens = tokens
    } else if (failed(call)) {
      next.stall = 1
      next.stallTokens = tokens
      next.stallFired = false
    } else {
      next.stall = 0
      next.stallFired = false
    }
    if (next.stall >= rules.stall_failures && !next.stallFired) {
      next.stallFired = true
      found.push(
        loop(
          call,
          'stall',
          scope,
          `session ${session}: ${next.stall} failed calls in a row with non-decreasing tokens`,
          {
            window: 'consecutive calls',
            observed: String(next.stall),
            threshold: String(rules.stall_failures),
          },
        ),
      )
    }

    // Context bloat: input tokens rising call after call.
    if (before) {
      if (input > before.lastInput) next.bloatCalls++
      else {
        next.bloatFrom = input
        next.bloatCalls = 1
        next.bloatFired = false
      }
    }
    next.lastInput = input
    if (
      next.bloatCalls >= rules.bloat_calls &&
      input >= next.bloatFrom * rules.bloat_growth &&
      !next.bloatFired
    ) {
      next.bloatFired = true
      found.push(
        loop(
          call,
          'context_bloat',
          scope,
          `session ${session}: input tokens rose ${next.bloatCalls} calls in a row, from ${next.bloatFrom} to ${input}`,
          {
            window: 'consecutive calls',
            observed: `${input} input tokens after ${next.bloatCalls} rising calls`,
            threshold: `${rules.bloat_growth}x ${next.bloatFrom} over ${rules.bloat_calls} calls`,
          },
        ),
      )
    }
    sessions.set(key, next)
  }

  function delegationRule(call: LlmCall, found: Detection[]): void {
    const trace = call.trace_id
    const from = call.parent_agent_id
    if (trace === undefined || from === undefined || from === call.agent_id) return
    const to = call.agent_id
    const key = `${call.tenant_id}|${trace}`
    const before = traces.get(key)
    // The same delegation again (more calls of the same hop) does not extend the chain.
    if (before && before.from === from && before.to === to) return
    const alternates = before !== undefined && before.from === to && before.to === from
    const next: TraceState = {
      last: call.occurred_at,
      from,
      to,
      chain: alternates ? before.chain + 1 : 2,
      fired: alternates ? before.fired : false,
    }
    if (next.chain >= rules.ping_pong_hops && !next.fired) {
      next.fired = true
      const agents = Array.from({ length: next.chain }, (_, i) =>
        (next.chain - 1 - i) % 2 === 0 ? to : from,
      )
      found.push(
        loop(
          call,
          'ping_pong',
          { kind: 'agent', id: to },
          `trace ${trace}: ${agents.join(' -> ')} delegate back and forth`,
          {
            window: `trace ${trace}`,
            observed: agents.join(' -> '),
            threshold: `${rules.ping_pong_hops} alternating agents`,
          },
        ),
      )
    }
    traces.set(key, next)
  }

  return {
    inspect({ call }) {
      const found: Detection[] = []
      fingerprintRule(call, found)
      sessionRules(call, found)
      delegationRule(call, found)
      return found
    },
    commit(stage) {
      fingerprints.commit(stage)
      sessions.commit(stage)
      traces.commit(stage)
    },
    discard(stage) {
      fingerprints.discard(stage)
      sessions.discard(stage)
      traces.discard(stage)
    },
    sweep(now) {
      fingerprints.sweep((state) => (state.times[state.times.length - 1] ?? 0) < now - windowMs)
      sessions.sweep((state) => state.last < now - SESSION_IDLE_MS)
      traces.sweep((state) => state.last < now - SESSION_IDLE_MS)
    },
  }
}
