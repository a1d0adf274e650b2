import { describe, expect, it } from 'vitest'
import { Watermarks } from '../../processors/windows/watermarks.ts'

const MINUTE = 60_000
const now = Date.UTC(2026, 10, 24, 12, 0)

describe('watermarks', () => {
  it('judges lateness per partition: one partition running ahead does not make another late', () => {
    const marks = new Watermarks({ allowedLatenessMs: 2 * MINUTE })
    const batch = marks.batch()
    expect(batch.isLate('kafka:0', now, now)).toBe(false)
    expect(batch.isLate('kafka:1', now - 10 * MINUTE, now)).toBe(false)
    expect(batch.isLate('kafka:0', now - 3 * MINUTE, now)).toBe(true)
    expect(batch.isLate('kafka:0', now - 2 * MINUTE, now)).toBe(false)
  })

  it('lets an event from the future move a watermark no further than the processing clock', () => {
    const marks = new Watermarks({ allowedLatenessMs: 2 * MINUTE })
    const batch = marks.batch()
    // A client clock a day ahead.
    expect(batch.isLate('kafka:0', now + 24 * 60 * MINUTE, now)).toBe(false)
    batch.commit()
    expect(marks.of('kafka:0')).toBe(now)
    // On-time events afterwards are not late; one more than the lateness behind the clock is.
    const next = marks.batch()
    expect(next.isLate('kafka:0', now - MINUTE, now + 1000)).toBe(false)
    expect(next.isLate('kafka:0', now - 3 * MINUTE, now + 1000)).toBe(true)
  })

  it('moves only when a batch commits, so a retried batch is judged the same', () => {
    const marks = new Watermarks({ allowedLatenessMs: 0 })
    const first = marks.batch()
    first.isLate('p', now, now)
    expect(marks.of('p')).toBe(Number.NEGATIVE_INFINITY)
    const retry = marks.batch()
    expect(retry.isLate('p', now - MINUTE, now)).toBe(false)
    retry.commit()
    first.commit()
    expect(marks.of('p')).toBe(now)
  })
})
