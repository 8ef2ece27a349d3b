// Measures what the node's relay carries for the demo's chat, read from
// libp2p_relaysvc_data_transferred_bytes_total on the node's /metrics:
// two tabs that stay on the relay (?webrtc=0) and two that upgrade to
// WebRTC, each sending the same messages. Needs RENDEZVOUS_BIN and Chromium,
// like test/browser.test.js:
//
//   RENDEZVOUS_BIN=/tmp/rendezvous node relay-bytes.mjs [messages] [bytes]
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { startNode } from '../../clients/js/test-support/node.js'
import { build, serve } from './build.mjs'

const MESSAGES = Number(process.argv[2] ?? 50)
const SIZE = Number(process.argv[3] ?? 100)
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-features=WebRtcHideLocalIpsWithMdns'
]

const node = await startNode()
const base = `http://127.0.0.1:${node.addr.match(/\/tcp\/(\d+)\//)[1]}`
const profile = await mkdtemp(join(tmpdir(), 'ws-star-relay-bytes-'))
const outdir = await mkdtemp(join(tmpdir(), 'ws-star-relay-bytes-site-'))
await build({ outdir })
const site = await serve(outdir)
const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS })

async function relayed () {
  const text = await (await fetch(`${base}/metrics`)).text()
  const m = text.match(/^libp2p_relaysvc_data_transferred_bytes_total (\S+)$/m)
  return m === null ? 0 : Number(m[1])
}

async function pair (ns, extra) {
  const pages = []
  for (let i = 0; i < 2; i++) {
    const page = await context.newPage()
    await page.goto(`${site.url}?${new URLSearchParams({ node: node.addr, ns, rtc: JSON.stringify({ iceServers: [] }), ...extra })}`)
    await page.waitForSelector('#status[data-state="connected"]', { timeout: 20_000 })
    pages.push(page)
  }
  const ids = await Promise.all(pages.map((p) => p.getAttribute('body', 'data-peer-id')))
  await pages[0].waitForSelector(`#peers [data-peer-id="${ids[1]}"]`, { timeout: 15_000 })
  await pages[1].waitForSelector(`#peers [data-peer-id="${ids[0]}"]`, { timeout: 15_000 })
  return { pages, ids }
}

async function send ({ pages, ids }, tag, n = MESSAGES) {
  const [a, b] = pages
  await a.click(`#peers [data-peer-id="${ids[1]}"]`)
  const before = await relayed()
  for (let i = 0; i < n; i++) {
    const text = `${tag} ${i} `.padEnd(SIZE, 'x')
    await a.fill('#message', text)
    await a.click('#send')
    try {
      await b.waitForSelector(`.message.in >> text=${text}`, { timeout: 15_000 })
    } catch (err) {
      for (const p of [a, b]) console.error(await p.$$eval('.message', (els) => els.slice(-4).map((e) => `${e.className} ${e.dataset.route ?? ''} ${e.textContent.slice(0, 60)}`)))
      throw err
    }
  }
  return (await relayed()) - before
}

// Lets identify and other start-up exchanges on a new connection finish.
const settle = () => new Promise((resolve) => setTimeout(resolve, 2_000))

async function close ({ pages }) {
  for (const p of pages) await p.close()
}

try {
  const start0 = await relayed()
  const onRelay = await pair('relay-bytes-relayed', { webrtc: '0' })
  // The first message opens the relayed connection (handshakes, identify).
  await send(onRelay, 'warm-up', 1)
  await settle()
  const setupRelay = (await relayed()) - start0
  const r0 = performance.now()
  const relayBytes = await send(onRelay, 'relayed')
  const tookRelayed = performance.now() - r0
  await close(onRelay)

  const start1 = await relayed()
  const direct = await pair('relay-bytes-webrtc', {})
  await direct.pages[0].waitForSelector(`#peers [data-peer-id="${direct.ids[1]}"][data-route="direct"]`, { timeout: 20_000 })
  await direct.pages[1].waitForSelector(`#peers [data-peer-id="${direct.ids[0]}"][data-route="direct"]`, { timeout: 20_000 })
  await settle()
  const setupDirect = (await relayed()) - start1
  const t0 = performance.now()
  const directBytes = await send(direct, 'direct')
  const took = performance.now() - t0
  // What the idle relayed connection still carries (js-libp2p pings every
  // connection every 10 s), over as long as the chat took.
  const idle0 = await relayed()
  await new Promise((resolve) => setTimeout(resolve, took))
  const idle = (await relayed()) - idle0
  await close(direct)

  console.log(`${MESSAGES} messages of ${SIZE} bytes, tab A to tab B`)
  console.log(`relayed (webrtc=0): opening the relayed connection and a first message ${setupRelay} B through the relay; then ${relayBytes} B, ${(relayBytes / MESSAGES).toFixed(0)} B per message, over ${(tookRelayed / 1000).toFixed(1)} s`)
  console.log(`WebRTC: join to direct ${setupDirect} B through the relay (relayed connection, identify, signalling); then ${directBytes} B, ${(directBytes / MESSAGES).toFixed(0)} B per message, over ${(took / 1000).toFixed(1)} s; the same time idle afterwards: ${idle} B`)
} finally {
  await context.close().catch(() => {})
  await site.close()
  await node.cleanup()
  await rm(profile, { recursive: true, force: true })
  await rm(outdir, { recursive: true, force: true })
}
