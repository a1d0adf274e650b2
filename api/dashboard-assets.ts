import type { Answer } from './http-server.ts'

/** The paths of the dashboard page and its assets. */
export const DASHBOARD_ASSETS = ['/'] as const

/** One asset of the dashboard. */
export function dashboardAsset(path: string): Answer {
  void path
  return {
    status: 200,
    body: '<!doctype html><title>SpendGuard</title>',
    contentType: 'text/html; charset=utf-8',
  }
}
