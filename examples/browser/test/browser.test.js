// The demo in real headless Chromium (Debian's chromium package, driven by
// playwright-core; no browser is downloaded): two tabs that know only the
// node's multiaddr find each other and exchange messages through its relay.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe } from 'node:test'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { startNode } from '../../../clients/js/test-support/node.js'
import { scenario } from '../../../clients/js/test-support/scenario.js'
import { build, serve } from '../build.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const RESULTS = join(here, '..', 'test-results')
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const NS = 'browser-e2e'
// Flags these machines need: no sandbox (root in a container), no GPU, and
// nothing that phones home.
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run'
]

describe('the browser demo in headless Chromium', { timeout: 180_000 }, () => {
  const step = scenario()
  let node, site, profile, context, pageA, pageB, idA, idB
  const pageErrors = []

  before(async () => {
    await mkdir(RESULTS, { recursive: true })
    node = await startNode()
    const { outdir } = await build({ outdir: join(RESULTS, 'site') })
    site = await serve(outdir)
    profile = await mkdtemp(join(tmpdir(), 'ws-star-chromium-'))
    // A persistent context is how playwright takes a --user-data-dir: a fresh
    // one per run.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1100, height: 820 },
      timeout: 60_000
    })
  })

  after(async () => {
    await context?.close().catch(() => {})
    await site?.close()
    await node?.cleanup()
    if (profile != null) await rm(profile, { recursive: true, force: true })
  })

  async function open (name) {
    const page = await context.newPage()
    page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`))
    page.on('console', (msg) => { if (msg.type() === 'error') pageErrors.push(`${name} console: ${msg.text()}`) })
    const url = `${site.url}?${new URLSearchParams({ node: node.addr, ns: NS })}`
    await page.goto(url, { waitUntil: 'load' })
    await page.waitForSelector('body[data-peer-id]', { timeout: 20_000 })
    return { page, id: await page.getAttribute('body', 'data-peer-id') }
  }

  step('two tabs given only the node address see each other', { timeout: 60_000 }, async (t) => {
    ({ page: pageA, id: idA } = await open('A'))
    await pageA.waitForSelector('#status[data-state="connected"]', { timeout: 20_000 })
    ;({ page: pageB, id: idB } = await open('B'))
    assert.notEqual(idA, idB)
    await pageB.waitForSelector(`#peers [data-peer-id="${idA}"]`, { timeout: 15_000 })
    await pageA.waitForSelector(`#peers [data-peer-id="${idB}"]`, { timeout: 15_000 })
    // B arrived in a namespace where A was waiting: the visitor's wait.
    const firstB = Number(await pageB.getAttribute('body', 'data-first-peer-ms'))
    t.diagnostic(`page load to first peer shown (tab B): ${firstB} ms`)
    assert.ok(firstB > 0)
    assert.equal(await pageA.textContent('#peer-count'), '1')
    assert.equal(await pageB.textContent('#peer-count'), '1')
  })

  step('a message typed in one tab appears in the other, both ways, through the relay', { timeout: 60_000 }, async () => {
    await pageA.click(`#peers [data-peer-id="${idB}"]`)
    await pageA.fill('#message', 'hello from tab A')
    await pageA.click('#send')
    await pageB.waitForSelector('.message.in >> text=hello from tab A', { timeout: 15_000 })
    await pageA.waitForSelector('.message.out >> text=hello from tab A', { timeout: 5_000 })

    await pageB.click(`#peers [data-peer-id="${idA}"]`)
    await pageB.fill('#message', 'hi A, B here ✓')
    await pageB.press('#message', 'Enter')
    await pageA.waitForSelector('.message.in >> text=hi A, B here ✓', { timeout: 15_000 })
    // Browsers cannot listen: the tabs are listed, and reached, only through the node's relay.
    const addrs = await pageA.getAttribute(`#peers [data-peer-id="${idB}"]`, 'data-addrs')
    assert.equal(addrs, `${node.addr}/p2p-circuit`)
    assert.equal(await pageA.textContent(`#peers [data-peer-id="${idB}"] .via`), 'via relay')
  })

  step('the page is saved as a screenshot artifact', { timeout: 30_000 }, async (t) => {
    const file = join(RESULTS, 'demo.png')
    await pageA.screenshot({ path: file, fullPage: true })
    await pageB.screenshot({ path: join(RESULTS, 'demo-tab-b.png'), fullPage: true })
    t.diagnostic(`screenshot: ${file}`)
  })

  step('closing one tab removes it from the other tab\'s list', { timeout: 30_000 }, async () => {
    await pageB.close()
    await pageA.waitForSelector(`#peers [data-peer-id="${idB}"]`, { state: 'detached', timeout: 20_000 })
    assert.equal(await pageA.textContent('#peer-count'), '0')
  })

  step('no page errors were logged', async () => {
    assert.deepEqual(pageErrors, [])
  })
})
