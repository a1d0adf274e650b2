import type { AddressInfo } from 'node:net'
import { createHttpServer } from '../api/http-server.ts'
import type { Config } from '../platform/config.ts'
import type { Logger } from '../platform/logger.ts'
import type { Pipeline } from './runtime.ts'

export interface HttpListener {
  port: number
  /** Stops accepting connections and waits for open requests to finish. */
  close(): Promise<void>
}

/** Serves the HTTP API of a pipeline on the configured address. */
export async function listenHttp(
  pipeline: Pipeline,
  config: Config,
  logger: Logger,
): Promise<HttpListener> {
  const server = createHttpServer({
    bus: pipeline.bus,
    logger: logger.child({ component: 'http' }),
    maxBodyBytes: config.http.maxBodyBytes,
    maxEventsPerRequest: config.http.maxEventsPerRequest,
    clock: pipeline.clock,
    health: () => ({
      transport: pipeline.transport,
      store: pipeline.store,
      catalog: pipeline.pricer.catalogVersion,
      pipeline: pipeline.processor.metrics,
      audit: pipeline.sink.stats(),
    }),
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.http.port, config.http.host, resolve)
  })
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
