import { readFileSync } from 'node:fs'
import type { Answer } from './http-server.ts'

/** The dashboard page and its assets: paths served, files under api/dashboard/, media types. */
const ASSETS = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/dashboard.js': ['dashboard.js', 'text/javascript; charset=utf-8'],
  '/dashboard.css': ['dashboard.css', 'text/css; charset=utf-8'],
} as const

export const DASHBOARD_ASSETS = Object.keys(ASSETS) as Array<keyof typeof ASSETS>

/**
 * The page reads only this origin's API and runs only its own script: no inline code, nothing
 * from elsewhere, and it may not be framed.
 */
const HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
}

const cache = new Map<string, string>()

/** One asset of the dashboard, read once from the files beside this module. */
export function dashboardAsset(path: string): Answer {
  const [file, contentType] = ASSETS[path as keyof typeof ASSETS]
  let text = cache.get(file)
  if (text === undefined) {
    text = readFileSync(new URL(`./dashboard/${file}`, import.meta.url), 'utf8')
    cache.set(file, text)
  }
  return { status: 200, body: text, contentType, headers: HEADERS }
}
