// Builds @spendguard/sdk from the repository's sources: an ESM and a CommonJS bundle of each
// entry (esbuild), their declarations (tsc), and the Avro schemas the Kafka entry reads at run
// time; then loads every output once, so a broken bundle fails here and not in an agent.
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { builtinModules, createRequire } from 'node:module'
import { dirname, join, relative, resolve } from 'node:path'
import process from 'node:process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from 'esbuild'

const here = dirname(fileURLToPath(import.meta.url))
const repo = resolve(here, '..')
const dist = join(here, 'dist')
const require = createRequire(import.meta.url)

/** @typedef {'index' | 'kafka'} EntryName */
/** @typedef {'esm' | 'cjs'} Format */

/**
 * Each entry and the packages it may load at run time (node built-ins aside).
 * @type {Record<EntryName, { source: string, runtime: string[] }>}
 */
const ENTRIES = {
  index: { source: 'producers/index.ts', runtime: ['zod'] },
  kafka: { source: 'producers/kafka.ts', runtime: ['zod', 'avsc'] },
}
/** @type {Record<Format, string>} */
const FORMATS = { esm: '.js', cjs: '.cjs' }

/**
 * One entry in one format. The Kafka entry imports the modules it shares with the main entry
 * (today the error classes) from the main entry's file instead of carrying copies: `instanceof
 * SpendGuardError` and the emitter's retries depend on there being one class. What it imports
 * that way must be exported by producers/index.ts; the smoke test fails otherwise.
 * @param {EntryName} name
 * @param {Format} format
 * @param {Set<string>} shared  the main entry's source files, relative to the repository
 * @returns {Promise<Set<string>>} this bundle's source files
 */
async function bundle(name, format, shared) {
  const extension = FORMATS[format]
  const result = await build({
    absWorkingDir: repo,
    entryPoints: { [name]: ENTRIES[name].source },
    outdir: dist,
    outExtension: { '.js': extension },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format,
    external: ['zod', 'kafkajs', 'avsc'],
    metafile: true,
    logLevel: 'warning',
    // CommonJS has no import.meta: the Avro schema files are found next to the bundle.
    ...(format === 'cjs' && {
      define: { 'import.meta.url': 'importMetaUrl' },
      banner: {
        js: "'use strict';\nconst importMetaUrl = require('node:url').pathToFileURL(__filename).href;",
      },
    }),
    plugins: [
      {
        name: 'shared-with-main-entry',
        setup(builder) {
          builder.onResolve({ filter: /^\.\.?\// }, (args) => {
            const file = relative(repo, resolve(args.resolveDir, args.path))
            return shared.has(file) ? { path: `./index${extension}`, external: true } : undefined
          })
        },
      },
    ],
  })
  checkImports(name, result.metafile)
  return new Set(Object.keys(result.metafile.inputs))
}

/**
 * Fails the build when a bundle contains a package or loads one it must not (chDB, kafkajs...).
 * @param {EntryName} name
 * @param {import('esbuild').Metafile} metafile
 */
function checkImports(name, metafile) {
  const packaged = Object.keys(metafile.inputs).filter((file) => file.includes('node_modules'))
  if (packaged.length > 0) throw new Error(`${name} bundles packages: ${packaged.join(', ')}`)
  const allowed = new Set([...ENTRIES[name].runtime, ...builtinModules])
  for (const output of Object.values(metafile.outputs)) {
    for (const { path } of output.imports) {
      const bare = path.replace(/^node:/, '')
      if (!path.startsWith('./index.') && !allowed.has(bare))
        throw new Error(
          `${name} loads "${path}" at run time; it may load ${ENTRIES[name].runtime.join(', ')} and node built-ins`,
        )
    }
  }
}

/**
 * Every file under a folder, as paths relative to it.
 * @param {string} folder
 */
function filesUnder(folder) {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)))
}

/**
 * Declarations by tsc, then made loadable without the repository: relative `.ts` specifiers
 * become `.js` in the ESM tree and `.cjs` in a CommonJS copy (`.d.cts`).
 */
function declarations() {
  const tsc = require.resolve('typescript/bin/tsc')
  execFileSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.types.json')], {
    stdio: 'inherit',
  })
  const types = join(dist, 'types')
  for (const file of filesUnder(types).filter((path) => path.endsWith('.d.ts'))) {
    const text = readFileSync(join(types, file), 'utf8')
    const rewrite = (/** @type {string} */ extension) =>
      text.replace(
        /(['"])(\.{1,2}\/[^'"]*)\.ts\1/g,
        (_, quote, path) => quote + path + extension + quote,
      )
    writeFileSync(join(types, file), rewrite('.js'))
    writeFileSync(join(types, file.replace(/\.d\.ts$/, '.d.cts')), rewrite('.cjs'))
  }
  for (const [name, { source }] of Object.entries(ENTRIES)) {
    const target = `./types/${source.replace(/\.ts$/, '')}`
    writeFileSync(join(dist, `${name}.d.ts`), `export * from '${target}.js'\n`)
    writeFileSync(join(dist, `${name}.d.cts`), `export * from '${target}.cjs'\n`)
  }
  checkDeclarationImports(types)
}

/**
 * Fails the build when a declaration still names a `.ts` file or a package the package does
 * not bring (pino, chDB...). Consumers' type checks live in test/integration/sdk-package.test.ts.
 * @param {string} types
 */
function checkDeclarationImports(types) {
  const allowed = new Set(['zod', 'kafkajs', 'avsc', ...builtinModules])
  for (const file of filesUnder(types)) {
    const text = readFileSync(join(types, file), 'utf8')
    for (const [, path = ''] of text.matchAll(/(?:from\s+|import\()['"]([^'"]+)['"]/g)) {
      const bad = path.startsWith('.')
        ? path.endsWith('.ts')
        : !allowed.has(path.replace(/^node:/, '').split('/')[0] ?? '')
      if (bad) throw new Error(`dist/types/${file} imports "${path}"`)
    }
  }
}

/** @typedef {typeof import('../producers/index.ts')} MainEntry */
/** @typedef {typeof import('../producers/kafka.ts')} KafkaEntry */

/**
 * Loads a built file as an agent would: `require` for CommonJS, `import` for ESM.
 * @param {string} file
 * @returns {Promise<unknown>}
 */
async function load(file) {
  /** @type {unknown} */
  const loaded = file.endsWith('.cjs') ? require(file) : await import(pathToFileURL(file).href)
  return loaded
}

/** Loads each output and uses what depends on files beside it (the Avro schemas). */
async function smokeTest() {
  for (const extension of Object.values(FORMATS)) {
    const main = /** @type {MainEntry} */ (await load(join(dist, `index${extension}`)))
    const kafka = /** @type {KafkaEntry} */ (await load(join(dist, `kafka${extension}`)))
    if (typeof main.createEmitter !== 'function' || typeof main.createGuard !== 'function')
      throw new Error(`index${extension} lacks createEmitter or createGuard`)
    await kafka.createEventCodec()
    const sendError = kafka.toSendError(new Error('down'), 'llm-calls', 1)
    if (!(sendError instanceof main.SpendGuardError))
      throw new Error(`kafka${extension} does not share SpendGuardError with index${extension}`)
  }
}

rmSync(dist, { recursive: true, force: true })
mkdirSync(dist, { recursive: true })
/** @type {Set<string>} */
const shared = new Set()
for (const format of /** @type {Format[]} */ (['esm', 'cjs'])) {
  for (const file of await bundle('index', format, new Set())) shared.add(file)
  await bundle('kafka', format, shared)
}
cpSync(join(repo, 'schemas/avro'), join(dist, 'avro'), { recursive: true })
declarations()
await smokeTest()
process.stdout.write(`built ${relative(process.cwd(), dist) || '.'}\n`)
