import type { TrustedKey } from './control-command.ts'
import { sseControlSource, type ControlSource } from './control-source.ts'
import {
  GuardState,
  type CallContext,
  type GuardCounters,
  type GuardDecision,
} from './guard-state.ts'

/** Per-million-token rates in USD, by model id, for pricing pre-call estimates. */
export type GuardPrices = Readonly<
  Record<string, { inputPerMTokUsd: number; outputPerMTokUsd: number }>
>

/**
 * What the call about to be made may cost at most: its cost, or its input tokens and
 * `max_tokens` (priced with the guard's `prices` for the context's model).
 */
export interface PreCallEstimate {
  costUsd?: number
  inputTokens?: number
  maxTokens?: number
}

interface GuardBaseOptions {
  /** Public keys whose signatures the guard obeys (several during a rotation). */
  trustedKeys: readonly TrustedKey[]
  /**
   * When the command source has been unreachable (or never reached) longer than
   * `unreachableAfterMs`: `open` keeps obeying the commands it holds and allows the rest,
   * `closed` blocks every call.
   */
  failMode: 'open' | 'closed'
  unreachableAfterMs?: number
  /** Rates for estimates given in tokens; a model not listed is checked without its estimate. */
  prices?: GuardPrices
  now?: () => number
  /** Told of each command ignored (forged, unsigned, unknown key, expired) and of lost sources. */
  onEvent?: (
    event: { kind: 'ignored'; reason: string } | { kind: 'disconnected'; error: string },
  ) => void
}

export type GuardOptions = GuardBaseOptions &
  (
    | {
        /** The SpendGuard HTTP API (`spendguard start`): the guard follows its SSE stream. */
        url: string
        /** A read token, when the API has tokens. */
        token?: string | undefined
      }
    | {
        /** Any command source: `kafkaControlSource(...)` from `@spendguard/sdk/kafka`, or SSE. */
        source: ControlSource
      }
  )

export interface Guard {
  /** Resolves once the guard has read every command issued before it connected. */
  readonly ready: Promise<void>
  /**
   * What the next LLM call may do: in-process, a few map lookups, no network. With an estimate,
   * a call that would cross a budget marked `block` is blocked before it is made.
   */
  check(context: CallContext, estimate?: PreCallEstimate): GuardDecision
  readonly counters: GuardCounters
  close(): Promise<void>
}

/**
 * A guard: follows the signed control commands of a source (the SSE stream of
 * `spendguard start`, or the compacted control topic) and answers `check` from memory before
 * each LLM call.
 */
export function createGuard(options: GuardOptions): Guard {
  const now = options.now ?? Date.now
  const state = new GuardState(options.trustedKeys)
  const unreachableAfterMs = options.unreachableAfterMs ?? 30_000
  const source = 'source' in options ? options.source : sseControlSource(options)
  let connected = false
  /** Since when the source has been out of reach (the start counts: not caught up yet). */
  let lostSince = now()
  let markReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (markReady = resolve))

  /** The caller's listener must never break the guard (nor reject inside it). */
  const notify = (event: Parameters<NonNullable<GuardBaseOptions['onEvent']>>[0]) => {
    try {
      options.onEvent?.(event)
    } catch {
      // Ignored: a listener's failure is the listener's.
    }
  }

  const estimateUsd = (estimate: PreCallEstimate, model: string | undefined) => {
    if (estimate.costUsd !== undefined) return estimate.costUsd
    const rates = model === undefined ? undefined : options.prices?.[model]
    if (!rates) return undefined
    return (
      ((estimate.inputTokens ?? 0) * rates.inputPerMTokUsd +
        (estimate.maxTokens ?? 0) * rates.outputPerMTokUsd) /
      1_000_000
    )
  }

  source.start({
    command(raw) {
      const verdict = state.apply(raw, now())
      if (!verdict.ok) notify({ kind: 'ignored', reason: verdict.reason })
    },
    caughtUp() {
      connected = true
      markReady()
    },
    contact() {},
    lost(error) {
      if (connected) lostSince = now()
      connected = false
      notify({ kind: 'disconnected', error })
    },
  })

  return {
    ready,
    counters: state.counters,
    check(context, estimate) {
      const at = now()
      if (!connected && at - lostSince > unreachableAfterMs && options.failMode === 'closed')
        return {
          action: 'block',
          reason: `the control source has been unreachable for over ${unreachableAfterMs} ms (fail closed)`,
          commandId: 'fail-closed',
        }
      return state.check(context, at, estimate && estimateUsd(estimate, context.model))
    },
    close: () => source.close(),
  }
}
