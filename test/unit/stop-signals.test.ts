import { afterEach, describe, expect, it } from 'vitest'
import { nextStopSignal } from '../../cli/start-command.ts'
import { createLogger } from '../../platform/logger.ts'

/** A logger whose JSON lines the test reads. */
function capturedLogger() {
  const lines: Array<Record<string, unknown>> = []
  const logger = createLogger({
    level: 'info',
    destination: {
      write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>),
    },
  })
  return { logger, lines }
}

describe('stop signals', () => {
  let release = () => {}
  afterEach(() => release())

  it('stops at the first Ctrl-C and only reports at the next ones', async () => {
    const { logger, lines } = capturedLogger()
    let queued = 3
    const listeners = process.listenerCount('SIGINT')
    const signals = nextStopSignal(logger, () => ({ queued }))
    release = () => signals.release()
    process.emit('SIGINT', 'SIGINT')
    await signals.signalled
    expect(lines.at(-1)?.msg).toMatch(/^shutting down/)
    expect(lines.at(-1)?.queued).toBe(3)
    queued = 1
    process.emit('SIGINT', 'SIGINT')
    process.emit('SIGTERM', 'SIGTERM')
    const [second, third] = lines.slice(-2)
    expect(second?.msg).toMatch(/^still shutting down/)
    expect(second?.queued).toBe(1)
    expect(third).toMatchObject({ signal: 'SIGTERM', queued: 1 })
    // Released after the shutdown: the handlers are gone.
    signals.release()
    expect(process.listenerCount('SIGINT')).toBe(listeners)
  })
})
