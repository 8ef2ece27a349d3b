// Headless Chromium for the demo's tests (Debian's chromium package, driven
// by playwright-core; no browser is downloaded): the built page served on
// 127.0.0.1, tabs opened on it or on a node's /demo/, and what the tests ask
// of a tab (its peer list, a chat). Not under test/: node --test would run it.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before } from 'node:test'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { build, serve } from '../build.mjs'

const here = dirname(fileURLToPath(import.meta.url))
export const RESULTS = join(here, '..', 'test-results')
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
// Flags these machines need: no sandbox (root in a container), no GPU, and
// nothing that phones home. WebRTC: plain host candidates instead of mDNS
// names, so two tabs connect over loopback.
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-features=WebRtcHideLocalIpsWithMdns'
]
// No STUN server is reachable (or needed) on loopback.
export const OFFLINE_ICE = JSON.stringify({ iceServers: [] })
// A TURN server without credentials: Chromium refuses to create the peer
// connection, so WebRTC fails on every attempt in either direction. (A
// relay-only ICE policy without TURN does not: a tab with host candidates
// still reaches it through peer-reflexive ones.)
export const BROKEN_ICE = JSON.stringify({ iceServers: [{ urls: 'turn:127.0.0.1:9' }] })
// The address of a WebRTC connection: /webrtc/p2p/<id> on the answering side,
// <node>/p2p-circuit/webrtc/p2p/<id> (the address dialed) on the offering one.
// Either way the data flows over the peer connection, not the relay.
export const WEBRTC_ADDR = /\/webrtc\/p2p\/\w+$/
// Chromium logs a failed WebSocket reconnect as a console error; after the
// node is stopped that is expected.
const NODE_GONE = /WebSocket connection to .* failed/

export const short = (id) => `${id.slice(0, 8)}…${id.slice(-6)}`
export const peerRow = (id) => `#peers [data-peer-id="${id}"]`

/**
 * Builds the page, serves it and starts Chromium (with extraArgs) before
 * the file's tests (node:test hooks), and closes them after.
 */
export function chromiumTabs (extraArgs = []) {
  const tabs = new Tabs(extraArgs)
  before(() => tabs.launch())
  after(() => tabs.close())
  return tabs
}

class Tabs {
  /** @param {string[]} extraArgs Chromium flags on top of CHROMIUM_ARGS */
  constructor (extraArgs) { this.extraArgs = extraArgs }

  /** Errors the pages reported, for a last test to check. */
  pageErrors = []
  /** Set before stopping a node: the pages' failed reconnects are not errors then. */
  nodeStopped = false

  async launch () {
    await mkdir(RESULTS, { recursive: true })
    const { outdir } = await build({ outdir: join(RESULTS, 'site') })
    this.site = await serve(outdir)
    this.profile = await mkdtemp(join(tmpdir(), 'ws-star-chromium-'))
    // A persistent context is how playwright takes a --user-data-dir: a fresh
    // one per run.
    this.context = await chromium.launchPersistentContext(this.profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS, ...this.extraArgs],
      viewport: { width: 1100, height: 820 },
      timeout: 60_000
    })
  }

  async close () {
    await this.context?.close().catch(() => {})
    await this.site?.close()
    if (this.profile != null) await rm(this.profile, { recursive: true, force: true })
  }

  /**
   * Opens the built page with ?node=<node>&ns=<ns>, offline ICE and extra
   * parameters (ns undefined: the page's default), and waits for its peer id.
   */
  async open (name, node, ns, extra = {}) {
    const page = await this.context.newPage()
    page.on('pageerror', (err) => this.pageErrors.push(`${name}: ${err.message}`))
    page.on('console', (msg) => {
      if (msg.type() !== 'error' || (this.nodeStopped && NODE_GONE.test(msg.text()))) return
      this.pageErrors.push(`${name} console: ${msg.text()}`)
    })
    const query = Object.entries({ node: node.addr, ns, rtc: OFFLINE_ICE, ...extra }).filter(([, v]) => v !== undefined)
    await page.goto(`${this.site.url}?${new URLSearchParams(query)}`, { waitUntil: 'load' })
    await page.waitForSelector('body[data-peer-id]', { timeout: 20_000 })
    return { page, id: await page.getAttribute('body', 'data-peer-id') }
  }

  /** Opens the demo the node serves (`query` e.g. `?ns=x`) and waits until it has joined; returns the page and its peer id. */
  async openServed (name, node, query) {
    const page = await this.context.newPage()
    page.on('pageerror', (err) => this.pageErrors.push(`${name}: ${err.message}`))
    await page.goto(`http://127.0.0.1:${node.addr.match(/\/tcp\/(\d+)\//)[1]}/demo/${query}`, { waitUntil: 'load' })
    await page.waitForSelector('#status[data-state="connected"]', { timeout: 30_000 })
    return { page, id: await page.getAttribute('body', 'data-peer-id') }
  }
}

/**
 * Waits until the page lists the peer with all of the wanted addresses (its
 * list may be updated after it first appears). A listed address may end in
 * the peer's own /p2p/<id> (pubsub-peer-discovery announces them so).
 */
export async function listedWith (page, id, wanted, timeout = 20_000) {
  await page.waitForSelector(peerRow(id), { timeout })
  try {
    await page.waitForFunction(({ sel, wanted, self }) => {
      const addrs = (document.querySelector(sel)?.dataset.addrs ?? '').split(' ').map((a) => a.endsWith(self) ? a.slice(0, -self.length) : a)
      return wanted.every((a) => addrs.includes(a))
    }, { sel: peerRow(id), wanted, self: `/p2p/${id}` }, { timeout })
  } catch (err) {
    const addrs = await page.getAttribute(peerRow(id), 'data-addrs').catch(() => '(not listed)')
    assert.fail(`${short(id)} is not listed with ${wanted.join(' ')} after ${timeout} ms: ${addrs} (${err.message})`)
  }
}

/** Sends text from one tab to the peer id and waits for it in the other tab; returns both messages' data. */
export async function chat (from, to, toId, text) {
  await from.click(peerRow(toId))
  await from.fill('#message', text)
  await from.click('#send')
  const inbound = await to.waitForSelector(`.message.in >> text=${text}`, { timeout: 15_000 })
  const outbound = await from.waitForSelector(`.message.out >> text=${text}`, { timeout: 5_000 })
  const info = async (el) => ({ route: await el.getAttribute('data-route'), addr: await el.getAttribute('data-conn-addr') })
  return { sent: await info(outbound), received: await info(inbound) }
}
