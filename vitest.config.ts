import { defineConfig } from 'vitest/config'

// Two projects: `unit` needs no services; `integration` talks to a real Kafka-protocol broker
// (Mokapi from node_modules, or Kafka in a container where Docker runs) and a real ClickHouse
// engine (chDB in-process, or a ClickHouse container).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // chDB binds one data directory per process and the broker is shared: run files one by one.
          fileParallelism: false,
          pool: 'forks',
        },
      },
    ],
  },
})
