import type { Femtos } from '../../platform/money.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import type { PriceResult } from '../pricing/pricer.ts'
import type { TotalsSum } from '../windows/spend-measures.ts'
import type { Dimension } from '../windows/spend-windows.ts'
import type { WindowName } from '../windows/window-spans.ts'
import type { Alert } from '../../alerts/alert.ts'
import type { Detection } from './detection.ts'
import type { Stage } from './staged-map.ts'

/** One call as detectors see it: validated, priced, not yet counted into the windows. */
export interface Subject {
  call: LlmCall
  price: PriceResult
  /** Exact cost; undefined when the call is unpriced. */
  cost: Femtos | undefined
}

/** Windows detectors can read one key of (a SpendWindows, an input share). */
export interface MeasureSource {
  addTotals(
    dimension: Dimension,
    tenant: string,
    key: string,
    window: WindowName,
    asOf: number,
    sum: TotalsSum,
  ): void
}

/** What a window holds for one key: enough for budgets and baselines. */
export interface WindowTotals {
  calls: number
  cost: Femtos
  tokens: number
}

/**
 * The live windows as detectors read them: the calls counted so far, and the earlier calls of
 * the batch being judged (not yet counted, because they are not yet audited). Never the
 * subject itself. `asOf` is the subject's event time, so live and replay read the same values.
 */
export interface WindowReader {
  totals(
    dimension: Dimension,
    tenant: string,
    key: string,
    window: WindowName,
    asOf: number,
  ): WindowTotals
}

/**
 * A family of rules (budgets, anomalies, loops, policy). State it keeps between calls changes
 * through `StagedMap`s, so `commit` and `discard` settle a batch as the audit write settles.
 */
export interface Detector {
  inspect(subject: Subject, reader: WindowReader): Detection[]
  /** Keeps what a batch's calls changed (the stage the engine judged them in). */
  commit(stage: Stage): void
  discard(stage: Stage): void
  /** Forgets state no rule can need at event time `now` any more. */
  sweep(now: number): void
  /**
   * Takes back what an alert raised before a restart says this detector had fired (in the
   * engine's current stage), so that a threshold passed before is not alerted, and its block not
   * requested, again.
   */
  remember?(alert: Alert): void
}

/** a/b > m/1 for exact a, b and a decimal multiple m, with no floating point on money. */
export function exceedsMultiple(
  value: Femtos,
  valueCalls: number,
  base: Femtos,
  baseCalls: number,
  multiple: number,
): boolean {
  const scaled = BigInt(Math.round(multiple * 1_000_000))
  return value * BigInt(baseCalls) * 1_000_000n > scaled * base * BigInt(valueCalls)
}

/** Decimal text of n/d to 6 places, for evidence (ratios, averages). */
export function ratioText(n: bigint, d: bigint): string {
  if (d === 0n) return 'inf'
  const scaled = (n * 1_000_000n) / d
  const whole = scaled / 1_000_000n
  const fraction = (scaled % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '')
  return fraction ? `${whole}.${fraction}` : `${whole}`
}
