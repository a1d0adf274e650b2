import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino'

export type { Logger }

export interface LoggerOptions {
  level?: LevelWithSilent
  /** Where JSON lines go; stderr by default so stdout stays free for command output. */
  destination?: DestinationStream
}

/** Builds the one root logger of an executable. Components take `logger.child({ component })`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'spendguard' },
      redact: {
        paths: ['*.password', '*.token', '*.secret', '*.sasl', 'config.clickhouse.password'],
        censor: '[redacted]',
      },
    },
    options.destination ?? pino.destination(2),
  )
}

/** A logger that writes nothing, for callers that do not care. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
