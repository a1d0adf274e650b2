/** Output formats by the names the CLI and the HTTP API take, as ClickHouse names them. */
export const ENGINE_FORMATS = {
  json: 'JSONEachRow',
  tsv: 'TabSeparatedWithNames',
  csv: 'CSVWithNames',
} as const

export type OutputFormatName = keyof typeof ENGINE_FORMATS
