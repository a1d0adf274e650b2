// The dashboard: reads the HTTP API of the process that serves it (no build step, no
// dependencies) and redraws every few seconds. Every value from the API is set as text, never
// as markup.

const DIMENSIONS = [
  ['agent', 'Agents'],
  ['feature', 'Features'],
  ['user', 'Users'],
  ['team', 'Teams'],
  ['model', 'Models'],
]
const REFRESH_MS = 5000
/** Per window: how far back the chart reaches and the width of one bar, in seconds. */
const CHART = {
  '15m': { span: 15 * 60, step: 60, label: 'per minute' },
  '1h': { span: 60 * 60, step: 5 * 60, label: 'per 5 minutes' },
  '24h': { span: 24 * 3600, step: 3600, label: 'per hour' },
  month: { span: 31 * 24 * 3600, step: 24 * 3600, label: 'per day' },
}

const state = {
  window: new URLSearchParams(location.search).get('window') ?? '15m',
  token: sessionStorage.getItem('spendguard-token') ?? '',
}
if (!(state.window in CHART)) state.window = '15m'

const $ = (id) => document.getElementById(id)

/** An element with children; strings become text nodes. */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'class') node.className = value
    else if (name === 'style') node.style.cssText = value
    else node.setAttribute(name, value)
  }
  for (const child of children)
    node.append(child instanceof Node ? child : document.createTextNode(String(child)))
  return node
}

class ApiError extends Error {
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

async function api(path, init = {}) {
  const headers = { ...(init.headers ?? {}) }
  if (state.token) headers.authorization = `Bearer ${state.token}`
  const response = await fetch(path, { ...init, headers })
  if (!response.ok) {
    const body = await response.json().catch(() => ({}))
    throw new ApiError(response.status, body.error ?? `${response.status} ${response.statusText}`)
  }
  return response.json()
}

/** A decimal USD string as people read it: cents from a dollar up, else four places. */
function dollars(text) {
  const [whole, fraction = ''] = String(text).split('.')
  const places = whole === '0' ? 4 : 2
  const digits = (fraction + '0000').slice(0, places + 1)
  // Round half up on the decimal digits themselves (no binary floating point on money).
  let kept = BigInt(whole + digits.slice(0, places))
  if (Number(digits[places]) >= 5) kept += 1n
  const all = kept.toString().padStart(places + 1, '0')
  const units = all.slice(0, -places).replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return `$${units}.${all.slice(-places)}`
}

/** Spend of a key; calls no price list knows are named, never counted as $0. */
function spendText(item) {
  if (item.unpriced_calls === 0) return dollars(item.cost_usd)
  if (item.unpriced_calls === item.calls) return 'unpriced'
  return `${dollars(item.cost_usd)} + ${item.unpriced_calls} unpriced`
}

/** For bar lengths only: a decimal string as a float. */
const amount = (text) => Number(text)

function table(headers, rows, empty) {
  if (rows.length === 0) return el('p', { class: 'empty' }, empty)
  const head = el(
    'tr',
    {},
    ...headers.map(([label, numeric]) => el('th', numeric ? { class: 'num' } : {}, label)),
  )
  return el(
    'table',
    {},
    el('thead', {}, head),
    el(
      'tbody',
      {},
      ...rows.map((cells) =>
        el(
          'tr',
          {},
          ...cells.map((cell, i) => el('td', headers[i][1] ? { class: 'num' } : {}, cell)),
        ),
      ),
    ),
  )
}

function bar(fraction, tone = '') {
  const width = Math.max(0, Math.min(1, fraction)) * 100
  return el('div', { class: `bar ${tone}` }, el('span', { style: `width:${width.toFixed(1)}%` }))
}

function replace(id, node) {
  $(id).replaceChildren(node)
}

async function drawDimensions() {
  const views = await Promise.all(
    DIMENSIONS.map(([dimension]) =>
      api(`/v1/spend?dimension=${dimension}&window=${state.window}&limit=8`),
    ),
  )
  const cards = views.map((view, i) => {
    const top = Math.max(...view.items.map((item) => amount(item.cost_usd)), 0)
    // Tenants are named only when the keys of several are listed together.
    const tenants = new Set(view.items.map((item) => item.tenant)).size
    const rows = view.items.map((item) => [
      tenants > 1 ? `${item.key} (${item.tenant})` : item.key,
      String(item.calls),
      spendText(item),
      bar(top === 0 ? 0 : amount(item.cost_usd) / top),
    ])
    return el(
      'div',
      { class: 'card', 'data-dimension': DIMENSIONS[i][0] },
      el('h2', {}, DIMENSIONS[i][1]),
      table(
        [
          ['', false],
          ['calls', true],
          ['spend', true],
          ['', false],
        ],
        rows,
        'no calls in this window',
      ),
    )
  })
  $('dimensions').replaceChildren(...cards)
  $('as-of').textContent = `as of ${new Date(views[0].as_of).toLocaleString()}`
  return views
}

async function drawTotals() {
  const view = await api(`/v1/spend?dimension=tenant&window=${state.window}`)
  let calls = 0
  let unpriced = 0
  let femtos = 0n
  for (const item of view.items) {
    calls += item.calls
    unpriced += item.unpriced_calls
    const [whole, fraction = ''] = item.cost_usd.split('.')
    femtos += BigInt(whole) * 10n ** 15n + BigInt((fraction + '0'.repeat(15)).slice(0, 15))
  }
  const text = `${femtos / 10n ** 15n}.${(femtos % 10n ** 15n).toString().padStart(15, '0')}`
  $('total-cost').textContent = dollars(text)
  $('total-calls').textContent = calls.toLocaleString()
  $('total-unpriced').textContent = unpriced.toLocaleString()
  return view
}

async function drawUnpriced() {
  const view = await api(`/v1/spend?dimension=model&window=${state.window}`)
  const rows = view.items
    .filter((item) => item.unpriced_calls > 0)
    .sort((a, b) => b.unpriced_calls - a.unpriced_calls)
    .map((item) => [item.key, String(item.unpriced_calls)])
  replace(
    'unpriced',
    table(
      [
        ['model', false],
        ['unpriced calls', true],
      ],
      rows,
      'every call in this window was priced',
    ),
  )
}

async function drawChart() {
  const { span, step, label } = CHART[state.window]
  const to = Date.now()
  const from = to - span * 1000
  const answer = await api('/v1/sql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: `SELECT toUnixTimestamp(toStartOfInterval(occurred_at, toIntervalSecond({step:UInt32}))) AS t,
          toString(sum(ifNull(cost_usd, 0))) AS cost
        FROM llm_calls
        WHERE occurred_at >= fromUnixTimestamp64Milli({from:Int64})
          AND occurred_at < fromUnixTimestamp64Milli({to:Int64})
        GROUP BY t ORDER BY t`,
      params: { step: String(step), from: String(from), to: String(to) },
      format: 'json',
    }),
  })
  const byTime = new Map(answer.data.map((row) => [Number(row.t), row.cost]))
  const first = Math.floor(from / 1000 / step) * step
  const buckets = []
  for (let t = first; t <= to / 1000; t += step) buckets.push([t, byTime.get(t) ?? '0'])
  // The peak as the exact decimal the API gave (a float would print tiny sums as 3e-7).
  const peakCost = buckets.reduce(
    (best, [, cost]) => (amount(cost) > amount(best) ? cost : best),
    '0',
  )
  const top = amount(peakCost)
  const width = 1000
  const height = 180
  const plot = height - 24
  const slot = width / buckets.length
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg')
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`)
  svg.setAttribute('preserveAspectRatio', 'none')
  svg.setAttribute('role', 'img')
  svg.setAttribute('aria-label', `spend ${label}`)
  buckets.forEach(([t, cost], i) => {
    const h = top === 0 ? 0 : (amount(cost) / top) * (plot - 4)
    const rect = document.createElementNS(svg.namespaceURI, 'rect')
    rect.setAttribute('x', (i * slot + slot * 0.1).toFixed(1))
    rect.setAttribute('y', (plot - h).toFixed(1))
    rect.setAttribute('width', (slot * 0.8).toFixed(1))
    rect.setAttribute('height', h.toFixed(1))
    const title = document.createElementNS(svg.namespaceURI, 'title')
    title.textContent = `${new Date(t * 1000).toLocaleString()}: ${dollars(cost)}`
    rect.append(title)
    svg.append(rect)
  })
  for (const [x, anchor, t] of [
    [2, 'start', buckets[0][0]],
    [width - 2, 'end', buckets[buckets.length - 1][0]],
  ]) {
    const text = document.createElementNS(svg.namespaceURI, 'text')
    text.setAttribute('x', String(x))
    text.setAttribute('y', String(height - 6))
    text.setAttribute('text-anchor', anchor)
    text.textContent = new Date(t * 1000).toLocaleString()
    svg.append(text)
  }
  const peak = document.createElementNS(svg.namespaceURI, 'text')
  peak.setAttribute('x', '2')
  peak.setAttribute('y', '12')
  peak.textContent = top === 0 ? 'no spend' : `peak ${dollars(peakCost)} ${label}`
  svg.append(peak)
  replace('chart', svg)
}

async function drawBudgets() {
  const { budgets } = await api('/v1/budgets')
  const rows = budgets.slice(0, 20).map((use) => {
    const percent = use.used_permille / 10
    const tone = percent >= 100 ? 'bad' : percent >= 80 ? 'warn' : 'ok'
    return [
      use.budget,
      `${use.scope} ${use.key}`,
      `${dollars(use.spent_usd)} of ${dollars(use.limit_usd)}`,
      `${percent} %`,
      bar(percent / 100, tone),
      use.on_exceed === 'block' ? 'blocks' : use.on_exceed === 'warn' ? 'alerts' : 'logs',
    ]
  })
  replace(
    'budgets',
    table(
      [
        ['budget', false],
        ['who', false],
        [`this day / month`, true],
        ['used', true],
        ['', false],
        ['at the limit', false],
      ],
      rows,
      'no day or month budget has spend yet (budgets are set in the configuration file)',
    ),
  )
}

async function resume(command) {
  const what = `${command.action} on ${command.scope.kind} ${command.scope.id}`
  if (!confirm(`Lift the ${what}?`)) return
  try {
    await api(`/v1/controls/${encodeURIComponent(command.command_id)}`, { method: 'DELETE' })
    await refresh()
  } catch (error) {
    showProblem(`could not lift the ${what}: ${error.message}`)
  }
}

async function drawControls() {
  const { commands } = await api('/v1/controls')
  const shown = commands.filter((command) => command.action !== 'cap')
  $('total-controls').textContent = String(shown.length)
  const rows = shown.map((command) => {
    const button = el('button', { type: 'button', class: 'resume' }, 'Resume')
    button.addEventListener('click', () => void resume(command))
    return [
      command.action,
      `${command.scope.kind} ${command.scope.id}`,
      command.reason,
      command.expires_at ? new Date(command.expires_at).toLocaleString() : 'until resumed',
      button,
    ]
  })
  replace(
    'controls',
    table(
      [
        ['action', false],
        ['scope', false],
        ['why', false],
        ['until', false],
        ['', false],
      ],
      rows,
      'nothing is blocked, throttled or downgraded',
    ),
  )
}

async function drawAlerts() {
  const { alerts } = await api('/v1/alerts?limit=50')
  const row = (alert) => [
    new Date(alert.occurred_at).toLocaleString(),
    el('span', { class: `badge ${alert.severity}` }, alert.severity),
    alert.summary,
  ]
  const headers = [
    ['when', false],
    ['', false],
    ['what', false],
  ]
  replace('alerts', table(headers, alerts.slice(0, 12).map(row), 'no alerts'))
  const violations = alerts.filter((alert) => alert.type.startsWith('policy.'))
  replace('violations', table(headers, violations.slice(0, 12).map(row), 'no policy violations'))
}

function showProblem(message) {
  const problem = $('problem')
  problem.hidden = message === ''
  problem.textContent = message
}

/**
 * A panel whose data spans every tenant (the chart reads SQL, controls concern all) tells a
 * token bound to one tenant so, instead of failing the page.
 */
async function unlessForbidden(drawing, id) {
  try {
    await drawing
  } catch (error) {
    if (error.status !== 403) throw error
    replace(id, el('p', { class: 'empty' }, 'not shown to a token bound to one tenant'))
  }
}

let refreshing = false
async function refresh() {
  if (refreshing) return
  refreshing = true
  try {
    const parts = [
      drawTotals(),
      drawDimensions(),
      unlessForbidden(drawChart(), 'chart'),
      drawBudgets(),
      unlessForbidden(drawControls(), 'controls'),
      drawAlerts(),
      drawUnpriced(),
    ]
    const outcomes = await Promise.allSettled(parts)
    const failed = outcomes.filter((outcome) => outcome.status === 'rejected')
    const unauthorized = failed.some((outcome) => outcome.reason?.status === 401)
    $('token-form').hidden = !unauthorized
    showProblem(
      unauthorized
        ? 'enter an access token to see spend'
        : failed.map((outcome) => outcome.reason?.message ?? String(outcome.reason)).join('; '),
    )
    document.body.dataset.loaded = failed.length === 0 ? 'true' : 'partial'
  } finally {
    refreshing = false
  }
}

function selectWindow(name) {
  state.window = name
  for (const button of document.querySelectorAll('#windows button'))
    button.setAttribute('aria-pressed', String(button.dataset.window === name))
  const url = new URL(location.href)
  url.searchParams.set('window', name)
  history.replaceState(null, '', url)
  void refresh()
}

for (const button of document.querySelectorAll('#windows button'))
  button.addEventListener('click', () => selectWindow(button.dataset.window))
$('token-form').addEventListener('submit', (event) => {
  event.preventDefault()
  state.token = $('token').value.trim()
  sessionStorage.setItem('spendguard-token', state.token)
  void refresh()
})
selectWindow(state.window)
setInterval(() => void refresh(), REFRESH_MS)
