// Copies the files the compiled code reads at run time into dist/, at the same relative paths.
// tsc emits only JavaScript, but modules find the price catalog, the Avro schemas, the SQL
// migrations and package.json relative to their own URL, so dist/ needs them beside its code.
// Run after `tsc -p tsconfig.build.json` (see the "build" script in package.json).
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')

/** Folders (relative to the repository root) and which of their files the runtime reads. */
const ASSETS = [
  { dir: '.', match: /^package\.json$/ },
  { dir: 'processors/pricing', match: /\.json$/ },
  { dir: 'schemas/avro', match: /\.avsc$/ },
  { dir: 'schemas/avro/released', match: /\.avsc$/ },
  { dir: 'sql/migrations', match: /\.sql$/ },
  { dir: 'sql/queries', match: /\.sql$/ },
  { dir: 'api/dashboard', match: /\.(html|js|css)$/ },
]

if (!existsSync(dist)) {
  console.error(`copy-build-assets: ${dist} does not exist; run tsc -p tsconfig.build.json first`)
  process.exit(1)
}

let copied = 0
for (const { dir, match } of ASSETS) {
  const from = join(root, dir)
  const files = readdirSync(from, { withFileTypes: true }).filter(
    (entry) => entry.isFile() && match.test(entry.name),
  )
  if (files.length === 0) {
    console.error(`copy-build-assets: no files matching ${match} in ${dir}`)
    process.exit(1)
  }
  const to = join(dist, dir)
  mkdirSync(to, { recursive: true })
  for (const file of files) {
    copyFileSync(join(from, file.name), join(to, file.name))
    copied++
  }
}
console.log(`copy-build-assets: copied ${copied} files into ${relative(root, dist)}/`)
