// AutoTLS in headless Chromium: tabs that know only the node's
// /tls/sni/<ip>.<peer id>.libp2p.direct/ws address reach it over secure
// WebSockets, reserve a relay slot, join a namespace, see each other and
// chat through the relay. The node, the forge and the test CA are started
// by the Go test TestBrowserTabsReachTheNodeAtItsLibp2pDirectAddressInChromium
// (interop/autotls_test.go), which passes the address and the CA's key
// hashes; Chromium resolves the forge's names to 127.0.0.1.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { chat, chromiumTabs, peerRow } from '../test-support/tabs.js'

const NODE = process.env.AUTOTLS_NODE
const SPKI = process.env.AUTOTLS_SPKI
const DOMAIN = process.env.AUTOTLS_DOMAIN ?? 'libp2p.direct'
const NS = 'autotls-e2e'
const skip = NODE === undefined && 'run by go test ./interop -run TestBrowserTabsReachTheNodeAtItsLibp2pDirectAddressInChromium'

const tabs = skip
  ? undefined
  : chromiumTabs([`--host-resolver-rules=MAP *.${DOMAIN} 127.0.0.1`, `--ignore-certificate-errors-spki-list=${SPKI}`])

describe('the demo at the node\'s libp2p.direct address in headless Chromium', { skip, timeout: 120_000 }, () => {
  it('two tabs given only that address connect over wss, reserve, join, see each other and chat through the relay', async (t) => {
    const node = { addr: NODE }
    const started = Date.now()
    // WebRTC off: the relay carries the chat, so the node's service is what is tested.
    const a = await tabs.open('A', node, NS, { webrtc: '0' })
    await a.page.waitForSelector('#status[data-state="connected"]', { timeout: 30_000 })
    t.diagnostic(`page load to connected over wss: ${Date.now() - started} ms`)
    const b = await tabs.open('B', node, NS, { webrtc: '0' })
    await b.page.waitForSelector(peerRow(a.id), { timeout: 20_000 })
    await a.page.waitForSelector(peerRow(b.id), { timeout: 20_000 })
    for (const [page, other] of [[a.page, b.id], [b.page, a.id]]) {
      const conns = await page.getAttribute('body', 'data-node-conn-addrs')
      t.diagnostic(`connection to the node: ${conns}`)
      assert.ok(conns.includes(`.${DOMAIN}`), `not connected at the ${DOMAIN} address: ${conns}`)
      // Listed at its circuit address: it holds a reservation on the node.
      const addrs = await page.getAttribute(peerRow(other), 'data-addrs')
      assert.ok(addrs.includes('/p2p-circuit'), `peer listed without a circuit address: ${addrs}`)
    }
    const { received } = await chat(a.page, b.page, b.id, 'hello over AutoTLS')
    assert.match(received.addr, /\/p2p-circuit/)
    assert.deepEqual(tabs.pageErrors, [])
  })
})
