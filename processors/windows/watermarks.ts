/**
 * Event-time watermarks, one per input partition: the latest event time seen there, so an
 * event more than the allowed lateness behind it is late. One partition running ahead does not
 * make another's events late, and an event from the future (a client clock ahead) moves its
 * watermark no further than the processing clock: on-time events after it are not late.
 */
export interface WatermarkOptions {
  allowedLatenessMs: number
}

export interface WatermarkBatch {
  /** Whether an event is late on its partition; the batch's own events count as seen. */
  isLate(partition: string, eventTime: number, now: number): boolean
  /** Makes the batch's advances permanent (a retried batch is judged against the old state). */
  commit(): void
}

export class Watermarks {
  readonly #options: WatermarkOptions
  readonly #marks = new Map<string, number>()

  constructor(options: WatermarkOptions) {
    this.#options = options
  }

  /** The watermark of a partition, or -Infinity before its first event. */
  of(partition: string): number {
    return this.#marks.get(partition) ?? Number.NEGATIVE_INFINITY
  }

  batch(): WatermarkBatch {
    const pending = new Map<string, number>()
    return {
      isLate: (partition, eventTime, now) => {
        const mark = pending.get(partition) ?? this.of(partition)
        const late = eventTime < mark - this.#options.allowedLatenessMs
        const reach = Math.min(eventTime, now)
        if (reach > mark) pending.set(partition, reach)
        return late
      },
      commit: () => {
        // Batches of different partitions settle in any order: a watermark only moves forward.
        for (const [partition, mark] of pending)
          if (mark > this.of(partition)) this.#marks.set(partition, mark)
      },
    }
  }
}
