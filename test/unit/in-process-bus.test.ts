import { describe, expect, it } from 'vitest'
import { BufferFullError, SinkUnavailableError } from '../../platform/errors.ts'
import { silentLogger } from '../../platform/logger.ts'
import type { InputRecord } from '../../processors/ingest/event-processor.ts'
import { createInProcessBus } from '../../processors/ingest/in-process-bus.ts'
import { makeLlmCall } from '../support/make-llm-call.ts'

const bus = (
  options: { capacity?: number; park?: (records: InputRecord[]) => Promise<void> } = {},
) =>
  createInProcessBus({
    logger: silentLogger(),
    capacity: options.capacity ?? 100,
    retry: { baseMs: 1, maxMs: 2 },
    ...(options.park ? { park: options.park } : {}),
  })

describe('in-process bus', () => {
  it('resolves a publish only once the handler has settled its events, and reports duplicates', async () => {
    const queue = bus()
    let release!: () => void
    const handled: InputRecord[] = []
    await queue.start(async (records) => {
      handled.push(...records)
      await new Promise<void>((resolve) => (release = resolve))
      return { duplicateIds: [records[1]!.source.kind === 'http' ? eventIdOf(records[1]!) : ''] }
    })
    const events = [makeLlmCall(), makeLlmCall()]
    let answered = false
    const publishing = queue.publish(events).then((outcome) => {
      answered = true
      return outcome
    })
    await expect.poll(() => handled.length).toBe(2)
    expect(answered).toBe(false)
    expect(queue.queued()).toBe(2)
    release()
    expect(await publishing).toEqual({ duplicates: new Set([events[1]!.event_id]) })
    expect(queue.queued()).toBe(0)
    await queue.stop()
  })

  it('answers the first copy of an id in a batch accepted and the later ones duplicate', async () => {
    const queue = bus()
    const event = makeLlmCall()
    // Both requests queue before the handler runs: one batch holds both copies.
    const first = queue.publish([event])
    const second = queue.publish([event])
    await queue.start((records) => {
      expect(records).toHaveLength(2)
      return Promise.resolve({ duplicateIds: [event.event_id] })
    })
    expect(await first).toEqual({ duplicates: new Set() })
    expect(await second).toEqual({ duplicates: new Set([event.event_id]) })
    await queue.stop()
  })

  it('is not ready while a batch fails for a reason retrying cannot fix, and delivers it again', async () => {
    const queue = bus()
    let attempts = 0
    let allow = false
    await queue.start(() => {
      attempts++
      if (!allow) return Promise.reject(new TypeError('the store refuses the whole batch'))
      return Promise.resolve()
    })
    const publishing = queue.publish([makeLlmCall()])
    await expect.poll(() => attempts).toBeGreaterThan(2)
    expect(queue.readiness()).toMatchObject({
      ready: false,
      reason: expect.stringMatching(/keeps failing.*refuses the whole batch/) as unknown,
    })
    allow = true
    await publishing
    expect(queue.readiness()).toEqual({ ready: true })
    await queue.stop()
  })

  it('counts events being written against its capacity', async () => {
    const queue = bus({ capacity: 3 })
    let release!: () => void
    await queue.start(() => new Promise<void>((resolve) => (release = resolve)))
    const first = queue.publish([makeLlmCall(), makeLlmCall()])
    await expect.poll(() => queue.queued()).toBe(2)
    await expect(queue.publish([makeLlmCall(), makeLlmCall()])).rejects.toBeInstanceOf(
      BufferFullError,
    )
    release()
    await first
    await queue.stop()
  })

  it('parks a batch the store still refuses at the shutdown deadline, and tells its sender to retry', async () => {
    const parked: InputRecord[] = []
    const queue = bus({
      park: (records) => {
        parked.push(...records)
        return Promise.resolve()
      },
    })
    await queue.start(() => Promise.reject(new SinkUnavailableError('store down')))
    const publishing = queue.publish([makeLlmCall()])
    const stopping = queue.stop()
    queue.abandon()
    await expect(publishing).rejects.toMatchObject({ code: 'SHUTTING_DOWN', retriable: true })
    await stopping
    expect(parked).toHaveLength(1)
  })
})

function eventIdOf(record: InputRecord): string {
  return 'event' in record ? record.event.event_id : ''
}
