// The demo in real headless Chromium (Debian's chromium package, driven by
// playwright-core; no browser is downloaded): two tabs that know only the
// node's multiaddr find each other, upgrade to a direct WebRTC connection
// signalled through the node's relay, and keep chatting after the node is
// stopped. A tab whose WebRTC cannot connect is reached through the relay.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe } from 'node:test'
import { startNode } from '../../../clients/js/test-support/node.js'
import { scenario } from '../../../clients/js/test-support/scenario.js'
import { BROKEN_ICE, RESULTS, WEBRTC_ADDR, chat, chromiumTabs, listedWith, peerRow, short } from '../test-support/tabs.js'

const NS = 'browser-e2e'
const tabs = chromiumTabs()
const open = (...args) => tabs.open(...args)
const openServed = (...args) => tabs.openServed(...args)

describe('the browser demo in headless Chromium', { timeout: 420_000 }, () => {
  const step = scenario()
  let node, pageA, pageB, pageC, pageD, idA, idB, idC, idD

  before(async () => { node = await startNode() })
  after(async () => {
    for (const p of [pageA, pageB, pageC, pageD]) await p?.close().catch(() => {})
    tabs.nodeStopped = true
    await node?.cleanup()
  })

  step('two tabs given only the node address see each other', { timeout: 60_000 }, async (t) => {
    ({ page: pageA, id: idA } = await open('A', node, NS))
    await pageA.waitForSelector('#status[data-state="connected"]', { timeout: 20_000 })
    ;({ page: pageB, id: idB } = await open('B', node, NS))
    assert.notEqual(idA, idB)
    await pageB.waitForSelector(peerRow(idA), { timeout: 15_000 })
    await pageA.waitForSelector(peerRow(idB), { timeout: 15_000 })
    // B arrived in a namespace where A was waiting: the visitor's wait.
    const firstB = Number(await pageB.getAttribute('body', 'data-first-peer-ms'))
    t.diagnostic(`page load to first peer shown (tab B): ${firstB} ms`)
    assert.ok(firstB > 0)
    assert.equal(await pageA.textContent('#peer-count'), '1')
    assert.equal(await pageB.textContent('#peer-count'), '1')
  })

  step('each tab learns the other\'s WebRTC address through the node and upgrades to a direct connection', { timeout: 150_000 }, async (t) => {
    for (const [page, other] of [[pageA, idB], [pageB, idA]]) {
      // The circuit and WebRTC-over-circuit addresses through the node reached the dialer.
      // (A tab announces again when its /webrtc listen address appears.)
      await listedWith(page, other, [`${node.addr}/p2p-circuit`, `${node.addr}/p2p-circuit/webrtc`])
      await page.waitForSelector(`${peerRow(other)}[data-route="direct"]`, { timeout: 40_000 })
      assert.equal(await page.textContent(`${peerRow(other)} .via`), 'direct (WebRTC)')
      const addr = await page.getAttribute(peerRow(other), 'data-conn-addr')
      t.diagnostic(`connection in use: ${addr}`)
      assert.match(addr, WEBRTC_ADDR)
      t.diagnostic(`tab log: ${(await page.$$eval('.message.system', (els) => els.map((e) => e.textContent))).join(' | ')}`)
      // The relayed connection is closed once the direct one is open: the
      // node's circuit is free again.
      await page.waitForSelector(`${peerRow(other)}[data-connections="1"]`, { timeout: 30_000 })
    }
  })

  step('messages go both ways over the direct WebRTC connection', { timeout: 60_000 }, async (t) => {
    for (const [from, to, toId, text] of [[pageA, pageB, idB, 'hello from tab A'], [pageB, pageA, idA, 'hi A, B here ✓']]) {
      const { sent, received } = await chat(from, to, toId, text)
      t.diagnostic(`"${text}": sent over ${sent.addr}, received over ${received.addr}`)
      for (const side of [sent, received]) {
        assert.equal(side.route, 'direct')
        assert.match(side.addr, WEBRTC_ADDR)
      }
    }
  })

  step('two tabs whose WebRTC cannot connect are listed as relayed and chat through the relay', { timeout: 90_000 }, async () => {
    const ns = `${NS}-no-ice`
    ;({ page: pageC, id: idC } = await open('C', node, ns, { rtc: BROKEN_ICE }))
    ;({ page: pageD, id: idD } = await open('D', node, ns, { rtc: BROKEN_ICE }))
    // Each side's attempt fails (the page's WebRTC timeout is 8 s; the
    // answering side tries itself 3 s after the peer appears) and the relayed
    // connection stays in use.
    for (const [page, other] of [[pageC, idD], [pageD, idC]]) {
      await page.waitForSelector(`.message.system >> text=No WebRTC connection to ${short(other)}`, { timeout: 40_000 })
      assert.equal(await page.getAttribute(peerRow(other), 'data-route'), 'relayed')
      assert.equal(await page.textContent(`${peerRow(other)} .via`), 'relayed')
    }
    const { sent, received } = await chat(pageC, pageD, idD, 'through the relay, D')
    assert.equal(sent.route, 'relayed')
    assert.equal(received.route, 'relayed')
    assert.equal(sent.addr, `${node.addr}/p2p-circuit/p2p/${idD}`)
    // A and B kept their direct connection meanwhile.
    assert.equal(await pageA.getAttribute(peerRow(idB), 'data-route'), 'direct')
  })

  step('the page is saved as a screenshot artifact', { timeout: 30_000 }, async (t) => {
    const file = join(RESULTS, 'demo.png')
    await pageA.screenshot({ path: file, fullPage: true })
    await pageB.screenshot({ path: join(RESULTS, 'demo-tab-b.png'), fullPage: true })
    t.diagnostic(`screenshot: ${file}`)
  })

  step('closing one tab removes it from the other tab\'s list', { timeout: 30_000 }, async () => {
    await pageD.close()
    await pageC.waitForSelector(peerRow(idD), { state: 'detached', timeout: 20_000 })
    assert.equal(await pageC.textContent('#peer-count'), '0')
    await pageC.close()
  })

  step('with the node stopped the two tabs still exchange messages: the data path is direct', { timeout: 60_000 }, async () => {
    tabs.nodeStopped = true
    const status = await node.stop()
    assert.equal(status.code, 0, `node exit ${JSON.stringify(status)}`)
    await pageA.waitForSelector('#status[data-state="reconnecting"]', { timeout: 20_000 })
    await pageB.waitForSelector('#status[data-state="reconnecting"]', { timeout: 20_000 })
    for (const [from, to, toId, text] of [[pageA, pageB, idB, 'node is gone, A still here'], [pageB, pageA, idA, 'B hears you without the node']]) {
      const { sent, received } = await chat(from, to, toId, text)
      assert.equal(sent.route, 'direct')
      assert.equal(received.route, 'direct')
    }
    assert.equal(await pageA.textContent(`${peerRow(idB)} .via`), 'direct (WebRTC)')
  })
})

describe('the demo with relay limits configured on the node', { timeout: 120_000 }, () => {
  const step = scenario()
  let node, pageA, pageB, idA, idB

  // go-libp2p's own defaults for a limited relay: the circuit is limited, and
  // only protocols that opt in (WebRTC signalling does) may use it.
  before(async () => { node = await startNode({ config: { relay: { limit_duration: '2m', limit_data: 131072 } } }) })
  after(async () => {
    for (const p of [pageA, pageB]) await p?.close().catch(() => {})
    await node?.cleanup()
  })

  step('the WebRTC signalling passes the limited circuit and the tabs chat directly', { timeout: 90_000 }, async () => {
    ({ page: pageA, id: idA } = await open('limits-A', node, `${NS}-limited`))
    ;({ page: pageB, id: idB } = await open('limits-B', node, `${NS}-limited`))
    await pageA.waitForSelector(`${peerRow(idB)}[data-route="direct"]`, { timeout: 30_000 })
    await pageB.waitForSelector(`${peerRow(idA)}[data-route="direct"]`, { timeout: 30_000 })
    const { sent, received } = await chat(pageA, pageB, idB, 'direct despite relay limits')
    assert.equal(sent.route, 'direct')
    assert.equal(received.route, 'direct')
  })
})

describe('the demo served by the node at /demo/', { timeout: 120_000 }, () => {
  const step = scenario()
  let node, pages = []

  before(async () => { node = await startNode() })
  after(async () => {
    for (const p of pages) await p.close().catch(() => {})
    await node?.cleanup()
  })

  step('two tabs opened at the node\'s /demo/ connect to it, find each other and go direct', { timeout: 90_000 }, async () => {
    // What a newcomer does: no node address, no ICE settings; the node fills
    // in its address and a loopback node needs no STUN server.
    const ids = []
    for (const name of ['served-A', 'served-B']) {
      const { page, id } = await openServed(name, node, `?ns=${NS}-served`)
      assert.equal(await page.inputValue('#node-addr'), node.addr)
      pages.push(page)
      ids.push(id)
    }
    await pages[0].waitForSelector(`${peerRow(ids[1])}[data-route="direct"]`, { timeout: 30_000 })
    await pages[1].waitForSelector(`${peerRow(ids[0])}[data-route="direct"]`, { timeout: 30_000 })
    const { sent, received } = await chat(pages[0], pages[1], ids[1], 'served by the node')
    assert.equal(sent.route, 'direct')
    assert.equal(received.route, 'direct')
  })
})

describe('tabs that reach the node over WebRTC-direct or WebTransport alone', { timeout: 300_000 }, () => {
  const step = scenario()
  let node
  const tabs = []

  // The node's default listeners: /ws plus WebRTC-direct and WebTransport on UDP.
  before(async () => { node = await startNode({ udp: true }) })
  after(async () => {
    for (const { page } of tabs) await page.close().catch(() => {})
    await node?.cleanup()
  })

  /** Opens a tab whose only transport to the node is the one of addr, and checks that it joined over it. */
  async function openOver (name, addr, transport, ns, extra = {}) {
    const tab = await open(name, node, ns, { node: addr, ...extra })
    tabs.push(tab)
    await tab.page.waitForSelector('#status[data-state="connected"]', { timeout: 30_000 })
    assert.equal(await tab.page.getAttribute('body', 'data-transport'), transport)
    await connectedOnlyAt(tab, addr)
    return tab
  }

  /** The tab's one connection to the node is at addr (it has no transport for the others). */
  async function connectedOnlyAt (tab, addr) {
    const toNode = (await tab.page.getAttribute('body', 'data-node-conn-addrs')).split(' ')
    assert.deepEqual(toNode, [addr], `connections to the node`)
  }

  /** The other tab lists this one with its reservation on the node at addr: <addr>/p2p-circuit. */
  const seesReservedPeer = (page, id, addr) => listedWith(page, id, [`${addr}/p2p-circuit`])

  step('a WebRTC-direct tab and a WebTransport tab reserve, join, see each other and go direct', { timeout: 180_000 }, async (t) => {
    const ns = `${NS}-udp`
    const rtc = await openOver('webrtc-direct', node.addrs.webrtcDirect, 'webrtc-direct', ns)
    const wt = await openOver('webtransport', node.addrs.webtransport, 'webtransport', ns)
    await seesReservedPeer(wt.page, rtc.id, node.addrs.webrtcDirect)
    await seesReservedPeer(rtc.page, wt.id, node.addrs.webtransport)
    // Dialled through the node: the WebRTC offer and answer cross the relay
    // over one UDP transport on each side.
    await rtc.page.waitForSelector(`${peerRow(wt.id)}[data-route="direct"]`, { timeout: 30_000 })
    await wt.page.waitForSelector(`${peerRow(rtc.id)}[data-route="direct"]`, { timeout: 30_000 })
    // As in the first suite: chat once the relayed connection has given way
    // to the direct one (a message sent while connections change may be lost
    // with the one that closes).
    await rtc.page.waitForSelector(`${peerRow(wt.id)}[data-connections="1"]`, { timeout: 30_000 })
    await wt.page.waitForSelector(`${peerRow(rtc.id)}[data-connections="1"]`, { timeout: 30_000 })
    const { sent, received } = await chat(rtc.page, wt.page, wt.id, 'from WebRTC-direct to WebTransport')
    t.diagnostic(`sent over ${sent.addr}, received over ${received.addr}`)
    for (const side of [sent, received]) assert.match(side.addr, WEBRTC_ADDR)
  })

  step('tabs opened at the node\'s /demo/?via=webrtc-direct and ?via=webtransport connect over that transport and see each other', { timeout: 60_000 }, async () => {
    const served = []
    for (const [via, addr] of [['webrtc-direct', node.addrs.webrtcDirect], ['webtransport', node.addrs.webtransport]]) {
      const tab = await openServed(`served-${via}`, node, `?via=${via}&ns=${NS}-served-udp`)
      tabs.push(tab)
      assert.equal(await tab.page.inputValue('#node-addr'), addr)
      assert.equal(await tab.page.getAttribute('body', 'data-transport'), via)
      await connectedOnlyAt(tab, addr)
      served.push(tab)
    }
    await served[0].page.waitForSelector(peerRow(served[1].id), { timeout: 20_000 })
    await served[1].page.waitForSelector(peerRow(served[0].id), { timeout: 20_000 })
  })

  step('without the WebRTC upgrade the two tabs chat through the relay over those transports', { timeout: 60_000 }, async () => {
    const ns = `${NS}-udp-relayed`
    const rtc = await openOver('webrtc-direct-relayed', node.addrs.webrtcDirect, 'webrtc-direct', ns, { webrtc: '0' })
    const wt = await openOver('webtransport-relayed', node.addrs.webtransport, 'webtransport', ns, { webrtc: '0' })
    await seesReservedPeer(rtc.page, wt.id, node.addrs.webtransport)
    await seesReservedPeer(wt.page, rtc.id, node.addrs.webrtcDirect)
    for (const [from, fromAddr, to, toAddr] of [[rtc, node.addrs.webrtcDirect, wt, node.addrs.webtransport], [wt, node.addrs.webtransport, rtc, node.addrs.webrtcDirect]]) {
      const { sent, received } = await chat(from.page, to.page, to.id, `relayed to ${short(to.id)}`)
      assert.equal(sent.route, 'relayed')
      assert.equal(received.route, 'relayed')
      // The address dialled is the first circuit address listed (through
      // the node's /ws); the circuit transport opens it over the existing
      // connection to the node, the only one the tab can have.
      assert.ok(sent.addr.endsWith(`/p2p/${node.peerId}/p2p-circuit/p2p/${to.id}`), sent.addr)
      await connectedOnlyAt(from, fromAddr)
      await connectedOnlyAt(to, toAddr)
    }
  })
})

describe('page errors', () => {
  // node:test runs top-level describes in order: this one comes last.
  const step = scenario()
  step('no page errors were logged', async () => {
    assert.deepEqual(tabs.pageErrors, [])
  })
})
