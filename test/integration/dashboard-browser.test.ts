import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import puppeteer, { type Browser, type Page } from 'puppeteer-core'
import { afterAll, describe, expect, it } from 'vitest'
import type { SpendView } from '../../processors/windows/spend-windows.ts'
import { startCli } from '../support/cli-process.ts'
import { freePort } from '../support/free-port.ts'
import { postEvents } from '../support/live-checks.ts'
import { makeLlmCallInput, recentTime } from '../support/make-llm-call.ts'

/** Debian's Chromium (`.ci/run` installs it); puppeteer-core brings no browser of its own. */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path))

const work = mkdtempSync(join(tmpdir(), 'spendguard-dashboard-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

/** The dashboard's rounding of a decimal USD string, computed apart from the page's code. */
function shown(cost: string): string {
  const value = Number(cost)
  return `$${value.toLocaleString('en-US', {
    minimumFractionDigits: value < 1 ? 4 : 2,
    maximumFractionDigits: value < 1 ? 4 : 2,
  })}`
}

const textOf = (page: Page, selector: string) =>
  page.$eval(selector, (node) => (node as unknown as { innerText: string }).innerText)

describe.skipIf(!CHROMIUM)('the dashboard in a real browser', () => {
  it('shows posted spend by dimension, budgets, controls, alerts, violations and unpriced models; an admin resumes a block', async () => {
    const config = join(work, 'spendguard.json')
    writeFileSync(
      config,
      JSON.stringify({
        budgets: [{ scope: { user: '*' }, period: 'day', limit_usd: '0.05', on_exceed: 'warn' }],
        policy: {
          mode: 'strict',
          categories: { bulk_generation: { models: ['gpt-4o-mini', 'in-house-llm-7b'] } },
        },
      }),
    )
    const port = await freePort()
    const dataDir = join(work, 'data')
    await startCli(['start', '--port', String(port), '--data-dir', dataDir, '--config', config])

    const agents = ['support-bot', 'blog-outline', 'invoice-reader']
    const events = Array.from({ length: 36 }, (_, i) =>
      makeLlmCallInput({
        occurred_at: recentTime(30 + i * 10),
        tenant_id: 'acme',
        agent_id: agents[i % 3],
        feature_id: i % 2 === 0 ? 'ticket-triage' : 'drafting',
        user_id: `user-${i % 4}`,
        team_id: i % 3 === 1 ? 'content' : 'care',
        session_id: `session-${i % 6}`,
        model: 'gpt-4o-mini',
        input_tokens: 20_000 + 1000 * i,
        output_tokens: 2000 + 100 * i,
        task_category: 'bulk_generation',
      }),
    )
    // A premium model where the policy does not allow it (a violation and a block), and a
    // model no price list knows.
    events.push(
      makeLlmCallInput({
        occurred_at: recentTime(20),
        tenant_id: 'acme',
        agent_id: 'blog-outline',
        model: 'gpt-4',
        task_category: 'bulk_generation',
        input_tokens: 1800,
        output_tokens: 600,
      }),
      makeLlmCallInput({
        occurred_at: recentTime(15),
        tenant_id: 'acme',
        agent_id: 'invoice-reader',
        model: 'in-house-llm-7b',
        task_category: 'bulk_generation',
        input_tokens: 500,
        output_tokens: 50,
      }),
    )
    await postEvents(port, events)
    const base = `http://127.0.0.1:${port}`
    const agentView = (await (
      await fetch(`${base}/v1/spend?dimension=agent&window=15m`)
    ).json()) as SpendView
    expect(agentView.items.map((item) => item.key).sort()).toEqual([...agents].sort())

    let browser: Browser | undefined
    try {
      browser = await puppeteer.launch({
        executablePath: CHROMIUM!,
        headless: true,
        args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
      })
      const page = await browser.newPage()
      await page.setViewport({ width: 1280, height: 900, deviceScaleFactor: 1 })
      const errors: string[] = []
      page.on('pageerror', (error) => errors.push(String(error)))
      page.on('dialog', (dialog) => void dialog.accept())
      await page.goto(`${base}/`, { waitUntil: 'load' })
      await page.waitForSelector('body[data-loaded="true"]', { timeout: 20_000 })

      // Each agent with its calls and its spend, as the API counts them.
      const agentsCard = await textOf(page, '[data-dimension="agent"]')
      for (const item of agentView.items) {
        expect(agentsCard).toContain(item.key)
        expect(agentsCard).toContain(shown(item.cost_usd))
        expect(agentsCard).toContain(`${item.key}\t${item.calls}\t`)
      }
      expect(await textOf(page, '[data-dimension="team"]')).toMatch(/care[\s\S]*content/)
      expect(await textOf(page, '#total-calls')).toBe(String(events.length))
      expect(await textOf(page, '#total-unpriced')).toBe('1')
      expect(await textOf(page, '#unpriced')).toContain('in-house-llm-7b')
      // Unpriced calls are named as such, not shown as $0.
      expect(await textOf(page, '[data-dimension="model"]')).toMatch(
        /in-house-llm-7b\s+1\s+unpriced/,
      )
      expect(await textOf(page, '[data-dimension="agent"]')).toMatch(
        /invoice-reader\s+13\s+\$0\.\d{4} \+ 1 unpriced/,
      )
      // The daily user budget of $0.05: users past it read over 100 %.
      expect(await textOf(page, '#budgets')).toMatch(/user-day\s+user user-\d[\s\S]*%/)
      expect(await textOf(page, '#violations')).toContain('gpt-4')
      expect(await textOf(page, '#alerts')).toContain('critical')
      const chartBars = await page.$$eval(
        '#chart rect',
        (rects) =>
          (rects as unknown as Array<{ getAttribute(name: string): string | null }>).filter(
            (rect) => Number(rect.getAttribute('height')) > 0,
          ).length,
      )
      expect(chartBars).toBeGreaterThan(0)
      // The one block: the premium model outside the policy.
      expect(await page.$$('#controls button.resume')).toHaveLength(1)
      expect(await textOf(page, '#controls')).toContain('blog-outline')
      expect(await textOf(page, '#total-controls')).toBe('1')

      // The README's picture is taken again only when asked: a test run leaves the tree as
      // it found it.
      const screenshot = process.env.SPENDGUARD_UPDATE_SCREENSHOT
        ? join(process.cwd(), 'docs', 'dashboard.png')
        : join(work, 'dashboard.png')
      await page.screenshot({ path: screenshot, fullPage: true })
      expect(existsSync(screenshot)).toBe(true)

      // An admin (the open loopback API) lifts the block from the page.
      await page.click('#controls button.resume')
      await page.waitForFunction(
        "!document.querySelector('#controls').textContent.includes('blog-outline')",
        { timeout: 10_000 },
      )
      const controls = (await (await fetch(`${base}/v1/controls`)).json()) as {
        commands: Array<{ action: string }>
      }
      expect(controls.commands.filter((command) => command.action === 'block')).toEqual([])
      expect(errors).toEqual([])
    } finally {
      await browser?.close()
    }
  })
})
