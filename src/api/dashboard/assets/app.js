// Proximity dashboard: reads the status API and follows its live stream. No framework; every
// value from the API is written with textContent, never as HTML.
'use strict'

const state = { summary: null, apps: [], others: [], events: [], connected: false, filter: { q: '', ready: 'all' } }
const $ = (sel) => document.querySelector(sel)

function el(tag, attrs, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') node.className = v
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v)
    else node.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue
    node.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
  return node
}

// A scrollable table region must be reachable by keyboard (axe: scrollable-region-focusable).
function tableWrap(label, table) {
  return el('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': label }, table)
}

function badge(phase) {
  return el('span', { class: `badge b-${phase}` }, phase === 'NotManaged' ? 'not managed' : phase)
}

function age(iso) {
  if (!iso) return ''
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))
  if (s < 90) return `${s}s`
  if (s < 5400) return `${Math.round(s / 60)}m`
  if (s < 172800) return `${Math.round(s / 3600)}h`
  return `${Math.round(s / 86400)}d`
}

async function api(path) {
  const r = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
  if (r.status === 401) throw Object.assign(new Error('unauthorized'), { status: 401 })
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`)
  return r.json()
}

async function login(token) {
  const r = await fetch('/api/v1/session', { method: 'POST', credentials: 'same-origin', headers: { Authorization: `Bearer ${token}` } })
  if (!r.ok) {
    const body = await r.json().catch(() => ({}))
    throw new Error(body.error ? body.error.message : `HTTP ${r.status}`)
  }
}

function showLogin(message) {
  $('#login').hidden = false
  $('#view').replaceChildren()
  $('#login-error').textContent = message || ''
  setLive('signed out')
}

function setLive(text) {
  $('#live').textContent = text
}

async function loadAll() {
  const [summary, apps, appliances, policies, restores, events, deliveries] = await Promise.all([
    api('/api/v1/summary'),
    api('/api/v1/apps'),
    api('/api/v1/appliances'),
    api('/api/v1/backuppolicies'),
    api('/api/v1/restores'),
    api('/api/v1/events?limit=200'),
    api('/api/v1/deliveries'),
  ])
  state.deliveries = deliveries.items
  state.summary = summary
  state.apps = apps.items
  state.others = [...appliances.items, ...policies.items, ...restores.items]
  state.events = events.items
}

function appAddress(o) {
  const a = (o.status && o.status.addresses) || {}
  const parts = []
  if (a.ip) parts.push(a.ip)
  for (const u of a.urls || []) parts.push(el('a', { href: u, rel: 'noreferrer' }, u))
  return parts.length ? parts.flatMap((p, i) => (i ? [' ', p] : [p])) : ['—']
}

function images(o) {
  const services = (o.spec && o.spec.source && o.spec.source.compose && o.spec.source.compose.services) || {}
  return Object.values(services).map((s) => s && s.image).filter(Boolean).join(', ')
}

function renderOverview() {
  const s = state.summary
  const c = s.counts
  const rev = s.revision || {}
  const notManaged = state.others.concat(state.apps).filter((o) => o.status.phase === 'NotManaged')
  return [
    el('h1', {}, 'Overview'),
    el('div', { class: 'tiles' },
      el('div', { class: 'tile' }, el('span', { class: 'n', id: 'count-ready' }, c.ready), el('span', { class: 'l' }, 'Ready')),
      el('div', { class: 'tile' }, el('span', { class: 'n', id: 'count-progressing' }, c.progressing), el('span', { class: 'l' }, 'Progressing')),
      el('div', { class: 'tile' }, el('span', { class: 'n', id: 'count-stalled' }, c.stalled), el('span', { class: 'l' }, 'Stalled')),
      el('div', { class: 'tile' }, el('span', { class: 'n' }, c.notManaged), el('span', { class: 'l' }, 'Not managed yet')),
    ),
    el('h2', {}, 'Source'),
    el('div', { class: 'card' }, el('dl', { class: 'kv' },
      el('dt', {}, 'Revision'), el('dd', {}, el('code', {}, rev.revision || '—')),
      el('dt', {}, 'Last resync'), el('dd', {}, s.lastResync ? `${age(s.lastResync)} ago (${s.lastResync})` : 'not yet'),
    )),
    notManaged.length ? [el('h2', {}, 'Not managed yet'), el('ul', {}, notManaged.map((o) => el('li', {}, `${o.kind}/${o.metadata.name}: ${o.status.message || ''}`)))] : [],
    el('h2', {}, 'Apps'),
    appsTable(state.apps.slice(0, 10)),
    state.apps.length > 10 ? el('p', {}, el('a', { href: '#/apps' }, `All ${state.apps.length} apps`)) : [],
  ]
}

function appsTable(items) {
  return tableWrap('Apps', el('table', { id: 'apps-table' },
    el('caption', { class: 'muted', style: undefined }, `${items.length} apps`),
    el('thead', {}, el('tr', {},
      el('th', { scope: 'col' }, 'Name'), el('th', { scope: 'col' }, 'Ready'), el('th', { scope: 'col', class: 'hide-narrow' }, 'Reason'),
      el('th', { scope: 'col', class: 'hide-narrow' }, 'Node'), el('th', { scope: 'col', class: 'hide-narrow' }, 'VMID'), el('th', { scope: 'col' }, 'Address'),
      el('th', { scope: 'col', class: 'hide-narrow' }, 'Images'), el('th', { scope: 'col', class: 'hide-narrow' }, 'Age'))),
    el('tbody', {}, items.map((o) => el('tr', { 'data-app': o.metadata.name },
      el('td', {}, el('a', { href: `#/apps/${encodeURIComponent(o.metadata.name)}` }, o.metadata.name)),
      el('td', {}, badge(o.status.phase)),
      el('td', { class: 'hide-narrow' }, o.status.reason || ''),
      el('td', { class: 'hide-narrow' }, (o.status.inventory && o.status.inventory.node) || ''),
      el('td', { class: 'hide-narrow' }, (o.status.inventory && o.status.inventory.vmid) || ''),
      el('td', {}, appAddress(o)),
      el('td', { class: 'hide-narrow' }, images(o)),
      el('td', { class: 'hide-narrow' }, age(o.metadata.creationTimestamp)),
    ))),
  ))
}

function renderApps() {
  const q = state.filter.q.toLowerCase()
  const items = state.apps.filter((o) => {
    if (state.filter.ready === 'ready' && !o.status.ready) return false
    if (state.filter.ready === 'notready' && o.status.ready) return false
    if (!q) return true
    return [o.metadata.name, o.status.reason, images(o), JSON.stringify(o.metadata.labels)].some((t) => String(t || '').toLowerCase().includes(q))
  })
  const search = el('input', { id: 'app-search', type: 'search', value: state.filter.q, placeholder: 'name, image, label' })
  search.addEventListener('input', () => {
    state.filter.q = search.value
    rerenderKeepingFocus('#app-search')
  })
  const ready = el('select', { id: 'ready-filter' },
    ['all', 'ready', 'notready'].map((v) => el('option', { value: v, selected: state.filter.ready === v }, v === 'all' ? 'All' : v === 'ready' ? 'Ready' : 'Not ready')))
  ready.addEventListener('change', () => {
    state.filter.ready = ready.value
    render()
  })
  return [
    el('h1', {}, 'Apps'),
    el('div', { class: 'filters' }, el('label', { for: 'app-search' }, 'Search', search), el('label', { for: 'ready-filter' }, 'Show', ready)),
    appsTable(items),
  ]
}

function conditionsTable(conditions) {
  return tableWrap('Conditions', el('table', {},
    el('thead', {}, el('tr', {}, ['Type', 'Status', 'Reason', 'Message', 'Since'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, conditions.map((c) => el('tr', {}, el('td', {}, c.type), el('td', {}, c.status), el('td', {}, c.reason), el('td', {}, c.message), el('td', {}, age(c.lastTransitionTime))))),
  ))
}

function renderApp(name) {
  const o = state.apps.find((a) => a.metadata.name === name)
  if (!o) return [el('h1', {}, name), el('p', {}, 'No such app.'), el('a', { href: '#/apps' }, 'Back to apps')]
  const inv = o.status.inventory || {}
  const events = state.events.filter((e) => e.key === `App/${name}`)
  return [
    el('h1', {}, o.metadata.name, ' ', badge(o.status.phase)),
    el('div', { class: 'card' }, el('dl', { class: 'kv' },
      el('dt', {}, 'Status'), el('dd', { id: 'app-status' }, `${o.status.reason || ''}${o.status.message ? `: ${o.status.message}` : ''}`),
      el('dt', {}, 'Node'), el('dd', {}, inv.node || '—'),
      el('dt', {}, 'VMID'), el('dd', {}, inv.vmid || '—'),
      el('dt', {}, 'Address'), el('dd', {}, appAddress(o)),
      el('dt', {}, 'Images'), el('dd', {}, images(o) || '—'),
      el('dt', {}, 'Revision'), el('dd', {}, el('code', {}, o.status.lastAppliedRevision || '—')),
      el('dt', {}, 'Health'), el('dd', {}, o.spec.health ? JSON.stringify(o.spec.health) : 'compose health'),
      el('dt', {}, 'Observed'), el('dd', {}, o.status.observedAt ? `${age(o.status.observedAt)} ago` : '—'),
    )),
    el('h2', {}, 'Conditions'), conditionsTable(o.status.conditions),
    el('h2', {}, 'History'),
    tableWrap('History', el('table', {},
      el('thead', {}, el('tr', {}, ['Result', 'Revision', 'When', 'Message'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, o.status.history.map((h) => el('tr', {}, el('td', {}, h.result), el('td', {}, h.revision || ''), el('td', {}, age(h.lastReconciled)), el('td', {}, h.message || '')))),
    )),
    el('h2', {}, 'Events'), eventsList(events),
  ]
}

function eventsList(events) {
  if (!events.length) return el('p', { class: 'muted' }, 'No events.')
  return el('ul', { class: 'events', id: 'events-list' }, events.map((e) => el('li', {},
    el('span', { class: e.type }, e.type), ' ', el('strong', {}, e.reason), ' ', el('code', {}, e.key), ' ', e.message, ' ', el('span', { class: 'muted' }, `${age(e.time)} ago`))))
}

function renderEvents() {
  return [el('h1', {}, 'Events'), eventsList(state.events)]
}

function renderDeliveries() {
  const items = state.deliveries || []
  if (!items.length) return [el('h1', {}, 'Webhook deliveries'), el('p', { class: 'muted' }, 'No deliveries (serve --git with a webhook secret records them).')]
  return [
    el('h1', {}, 'Webhook deliveries'),
    tableWrap('Deliveries', el('table', { id: 'deliveries-table' },
      el('thead', {}, el('tr', {}, ['When', 'Source', 'Event', 'Delivery', 'Ref', 'Verdict', 'Revision'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, items.map((d) => el('tr', {},
        el('td', {}, age(d.time)), el('td', {}, d.source), el('td', {}, d.event), el('td', {}, d.deliveryId || ''),
        el('td', {}, d.ref || ''), el('td', {}, d.message ? `${d.verdict} (${d.message})` : d.verdict), el('td', {}, d.revision || d.error || '')))),
    )),
  ]
}

function route() {
  const h = location.hash.replace(/^#/, '') || '/'
  const m = /^\/apps\/(.+)$/.exec(h)
  if (m) return renderApp(decodeURIComponent(m[1]))
  if (h === '/apps') return renderApps()
  if (h === '/events') return renderEvents()
  if (h === '/deliveries') return renderDeliveries()
  return renderOverview()
}

function render() {
  if (!state.summary) return
  $('#login').hidden = true
  $('#view').replaceChildren(...route().flat(Infinity).filter(Boolean))
}

function rerenderKeepingFocus(selector) {
  const pos = document.activeElement && document.activeElement.selectionStart
  render()
  const input = $(selector)
  if (input) {
    input.focus()
    if (typeof pos === 'number') input.setSelectionRange(pos, pos)
  }
}

let refreshTimer = null
function scheduleRefresh() {
  if (refreshTimer) return
  refreshTimer = setTimeout(async () => {
    refreshTimer = null
    try {
      await loadAll()
      render()
    } catch (e) {
      if (e.status === 401) showLogin('Your session ended; sign in again.')
    }
  }, 150)
}

function follow() {
  const es = new EventSource('/api/v1/stream')
  es.addEventListener('open', () => setLive('live'))
  es.addEventListener('error', () => setLive('reconnecting…'))
  for (const type of ['status', 'event', 'revision', 'delivery', 'source', 'reset']) es.addEventListener(type, scheduleRefresh)
  // Deliveries arrive without a stream event of their own: look again now and then.
  setInterval(scheduleRefresh, 30000)
}

async function start() {
  $('#login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault()
    try {
      await login($('#token-input').value.trim())
      $('#token-input').value = ''
      await boot()
    } catch (e) {
      showLogin(`Sign-in failed: ${e.message}`)
    }
  })
  window.addEventListener('hashchange', render)
  const m = /(?:^#|&)token=([A-Za-z0-9._-]+)/.exec(location.hash)
  if (m) {
    // The token came in the fragment, which browsers never send; drop it from the address bar.
    history.replaceState(null, '', `${location.pathname}#/`)
    try {
      await login(m[1])
    } catch (e) {
      showLogin(`Sign-in failed: ${e.message}`)
      return
    }
  }
  await boot()
}

async function boot() {
  try {
    await loadAll()
  } catch (e) {
    if (e.status === 401) return showLogin()
    setLive(`error: ${e.message}`)
    return
  }
  render()
  follow()
}

document.addEventListener('DOMContentLoaded', start)
