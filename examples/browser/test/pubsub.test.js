// The demo's pubsub mode in headless Chromium: tabs that find each other with
// @libp2p/pubsub-peer-discovery over @libp2p/gossipsub through the node (which
// serves the discovery topic and announces its members), then upgrade to a
// direct WebRTC connection and chat over it as ws-star-mode tabs do; and a
// ws-star-mode tab in the namespace that is the discovery topic, found by and
// finding the pubsub-mode tabs.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe } from 'node:test'
import { startNode } from '../../../clients/js/test-support/node.js'
import { scenario } from '../../../clients/js/test-support/scenario.js'
import { RESULTS, WEBRTC_ADDR, chat, chromiumTabs, listedWith, peerRow } from '../test-support/tabs.js'

const TOPIC = '_peer-discovery._p2p._pubsub'
const tabs = chromiumTabs()

describe('the demo in pubsub mode', { timeout: 180_000 }, () => {
  const step = scenario()
  let node, a, b, c

  // The node announces each member at most once per announce_interval (10 s
  // by default); 1 s keeps the test short. The pages announce themselves
  // every 10 s, as pubsub-peer-discovery does by default.
  before(async () => { node = await startNode({ config: { pubsub: { announce_interval: '1s' } } }) })
  after(async () => {
    for (const tab of [a, b, c]) await tab?.page.close().catch(() => {})
    await node?.cleanup()
  })

  /** Waits until the page lists the peer with its WebRTC address through the node and has gone direct to it. */
  async function direct (page, other, t) {
    await listedWith(page, other, [`${node.addr}/p2p-circuit`, `${node.addr}/p2p-circuit/webrtc`], 30_000)
    await page.waitForSelector(`${peerRow(other)}[data-route="direct"]`, { timeout: 30_000 })
    assert.match(await page.getAttribute(peerRow(other), 'data-conn-addr'), WEBRTC_ADDR)
    // The relayed connection gave way to the direct one.
    await page.waitForSelector(`${peerRow(other)}[data-connections="1"]`, { timeout: 10_000 })
    t.diagnostic(`tab log: ${(await page.$$eval('.message.system', (els) => els.map((e) => e.textContent))).join(' | ')}`)
  }

  step('two pubsub-mode tabs find each other over pubsub-peer-discovery through the node', { timeout: 60_000 }, async (t) => {
    // A is the built page; B is the one the node serves at /demo/?discovery=pubsub.
    a = await tabs.open('pubsub-A', node, undefined, { discovery: 'pubsub' })
    b = await tabs.openServed('pubsub-B', node, '?discovery=pubsub')
    for (const tab of [a, b]) {
      await tab.page.waitForSelector('#status[data-state="connected"]', { timeout: 20_000 })
      assert.equal(await tab.page.getAttribute('body', 'data-discovery'), 'pubsub')
      assert.equal(await tab.page.inputValue('#discovery'), 'pubsub')
      // The namespace is the discovery topic, and the page says which discovery it uses.
      assert.equal(await tab.page.textContent('#ns-label'), TOPIC)
      assert.match(await tab.page.textContent('#status'), /pubsub discovery/)
      assert.match(await tab.page.textContent('#discovery-label'), /pubsub-peer-discovery over gossipsub/)
    }
    await a.page.waitForSelector(peerRow(b.id), { timeout: 30_000 })
    await b.page.waitForSelector(peerRow(a.id), { timeout: 30_000 })
    for (const tab of [a, b]) {
      t.diagnostic(`page load to first peer shown: ${await tab.page.getAttribute('body', 'data-first-peer-ms')} ms`)
    }
    assert.equal(await a.page.textContent('#peer-count'), '1')
    assert.equal(await b.page.textContent('#peer-count'), '1')
  })

  step('they upgrade to a direct WebRTC connection signalled through the relay and chat over it', { timeout: 90_000 }, async (t) => {
    await direct(a.page, b.id, t)
    await direct(b.page, a.id, t)
    for (const [from, to, text] of [[a, b, 'pubsub A to B'], [b, a, 'pubsub B to A ✓']]) {
      const { sent, received } = await chat(from.page, to.page, to.id, text)
      t.diagnostic(`"${text}": sent over ${sent.addr}, received over ${received.addr}`)
      for (const side of [sent, received]) {
        assert.equal(side.route, 'direct')
        assert.match(side.addr, WEBRTC_ADDR)
      }
    }
  })

  step('a ws-star-mode tab in the namespace of the discovery topic and the pubsub-mode tabs find each other and go direct', { timeout: 90_000 }, async (t) => {
    c = await tabs.open('ws-star-C', node, TOPIC)
    await c.page.waitForSelector('#status[data-state="connected"]', { timeout: 20_000 })
    assert.equal(await c.page.getAttribute('body', 'data-discovery'), 'ws-star')
    // The ws-star view lists the pubsub members; the node announces the
    // ws-star member on the topic.
    for (const [page, other] of [[c.page, a.id], [c.page, b.id], [a.page, c.id], [b.page, c.id]]) {
      await page.waitForSelector(peerRow(other), { timeout: 30_000 })
    }
    assert.equal(await c.page.textContent('#peer-count'), '2')
    await direct(c.page, a.id, t)
    await direct(a.page, c.id, t)
    for (const [from, to, text] of [[c, a, 'ws-star C to pubsub A'], [a, c, 'pubsub A to ws-star C']]) {
      const { sent, received } = await chat(from.page, to.page, to.id, text)
      assert.equal(sent.route, 'direct')
      assert.equal(received.route, 'direct')
    }
    await a.page.screenshot({ path: join(RESULTS, 'demo-pubsub.png'), fullPage: true })
  })

  step('a pubsub-mode tab that closes leaves the ws-star view', { timeout: 30_000 }, async () => {
    await b.page.close()
    await c.page.waitForSelector(peerRow(b.id), { state: 'detached', timeout: 20_000 })
    assert.equal(await c.page.textContent('#peer-count'), '1')
  })
})

describe('page errors', () => {
  // node:test runs top-level describes in order: this one comes last.
  const step = scenario()
  step('no page errors were logged', async () => {
    assert.deepEqual(tabs.pageErrors, [])
  })
})
