import { join, resolve } from 'node:path'
import { createFileDeadLetterSink, deadLetterOf } from '../processors/ingest/dead-letters.ts'
import { createEventProcessor } from '../processors/ingest/event-processor.ts'
import { createInProcessBus } from '../processors/ingest/in-process-bus.ts'
import { rebuildWindows } from '../processors/windows/window-rebuild.ts'
import { processorOptions, type Transport, type TransportDeps } from './transport-wiring.ts'

/**
 * The embedded transport: an in-process queue whose publish resolves once the events are
 * audited (docs/adr/0006), one processor counting every call into its own windows.
 */
export function wireEmbedded(deps: TransportDeps): Transport {
  const { config, logger, clock } = deps
  const deadLetters = createFileDeadLetterSink(
    join(resolve(config.clickhouse.dataDir), 'dead-letters.ndjson'),
  )
  const bus = createInProcessBus({
    logger: logger.child({ component: 'in-process-bus' }),
    capacity: config.pipeline.maxQueuedEvents,
    // An embedded insert has a large fixed cost, so large inserts are far cheaper per row
    // (ADR 0006: 20,000 against 10,000 under full load); the next batch is prepared while one
    // is written.
    batchSize: Math.max(config.audit.batchSize, 20_000),
    concurrency: 2,
    park: (records, error) =>
      deadLetters.publish(
        records.map((record) =>
          deadLetterOf(
            record,
            {
              code: 'SHUTDOWN_UNWRITTEN',
              reason: `not audited before the shutdown deadline: ${error instanceof Error ? error.message : String(error)}`,
            },
            clock.now(),
          ),
        ),
      ),
  })
  // The bus hands over one batch at a time and waits for it: write it at once.
  const processor = createEventProcessor({
    ...processorOptions(deps),
    deadLetters,
    flushEachBatch: true,
  })
  return {
    bus,
    processor,
    closers: [() => bus.stop()],
    leads: () => true,
    spend: (query) => processor.windows.view(query),
    async start() {
      // Live totals start from the audit, which holds exactly what was audited before.
      const began = Date.now()
      const calls = await rebuildWindows(deps.reader, {
        now: clock.now(),
        into: () => processor.windows,
      })
      logger.info({ calls, ms: Date.now() - began }, 'windows rebuilt from the audit')
      await bus.start((records) => processor.process(records))
    },
    readiness: () => bus.readiness(),
    sweep: () => {
      processor.windows.sweep(clock.now())
      processor.detection.sweep(clock.now())
    },
    abandon: () => bus.abandon(),
    queued: () => bus.queued(),
    status: () => ({ keys: processor.windows.keyCounts(), tooOld: processor.windows.tooOld }),
  }
}
