// rendezvousClient() against the real node: register (and refresh), discover
// with cookies, unregister, statuses; and one membership shared with
// /ws-star/1.0.0.
import '../test-support/polyfill.js'
import assert from 'node:assert/strict'
import { after, before, describe } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidParametersError, ServerStatusError } from '../src/index.js'
import { scenario } from '../test-support/scenario.js'
import { startNode } from '../test-support/node.js'
import { createPeer, nextEvent } from '../test-support/peer.js'

const NS = 'ws-star-rendezvous-test'

describe('rendezvousClient against the rendezvous node', { timeout: 120_000 }, () => {
  const step = scenario()
  let node, a, b, watcher, cookie

  before(async () => {
    // A short minimum TTL lets the refresh be observed within the test.
    node = await startNode({ config: { rendezvous: { min_ttl: '1s' } } })
    a = await createPeer()
    b = await createPeer()
  })

  after(async () => {
    await Promise.allSettled([a?.stop(), b?.stop(), watcher?.stop()])
    await node?.cleanup()
  })

  step('registering without a relay reservation is refused locally: no address to register', async () => {
    await assert.rejects(a.services.rendezvous.register(node.addr, NS), InvalidParametersError)
  })

  step('a registered peer is discovered with its verified circuit address and the TTL granted', { timeout: 30_000 }, async () => {
    await listenOnRelay(a, node.addr)
    const { ttl } = await a.services.rendezvous.register(node.addr, NS, { ttl: 2 })
    assert.equal(ttl, 2)

    const page = await b.services.rendezvous.discover(node.addr, { namespace: NS })
    assert.equal(page.invalid, 0)
    assert.deepEqual(page.registrations.map((r) => r.id.toString()), [a.peerId.toString()])
    const [reg] = page.registrations
    assert.equal(reg.namespace, NS)
    assert.ok(reg.ttl > 0 && reg.ttl <= 2, `ttl ${reg.ttl}`)
    assert.ok(reg.multiaddrs.some((ma) => ma.toString() === `${node.addr}/p2p-circuit`),
      `addresses ${reg.multiaddrs.map(String)}`)
    assert.ok(page.cookie instanceof Uint8Array && page.cookie.length > 0, 'no cookie')
    cookie = page.cookie
  })

  step('discover with the cookie returns only what is new', { timeout: 30_000 }, async () => {
    const again = await b.services.rendezvous.discover(node.addr, { namespace: NS, cookie })
    assert.deepEqual(again.registrations, [])
    cookie = again.cookie ?? cookie

    await listenOnRelay(b, node.addr)
    await b.services.rendezvous.register(node.addr, NS, { ttl: 60 })
    const next = await a.services.rendezvous.discover(node.addr, { namespace: NS, cookie })
    assert.deepEqual(next.registrations.map((r) => r.id.toString()), [b.peerId.toString()])
  })

  step('the registration is refreshed before its 2 s TTL runs out', { timeout: 30_000 }, async () => {
    // Without refreshes A's registration would have expired after 2 s.
    await new Promise((resolve) => setTimeout(resolve, 4_500))
    const page = await b.services.rendezvous.discover(node.addr, { namespace: NS })
    assert.ok(page.registrations.some((r) => r.id.equals(a.peerId)), 'A expired: it was not refreshed')
  })

  step('a rendezvous registration shows up in a live /ws-star/1.0.0 view', { timeout: 30_000 }, async () => {
    watcher = await createPeer({ wsStar: { servers: [node.addr], namespaces: [NS], announce: false } })
    const seen = await nextEvent(watcher.services.wsStar, 'peer', (d) => d.id.equals(a.peerId), 15_000)
    assert.ok(seen.multiaddrs.some((ma) => ma.toString() === `${node.addr}/p2p-circuit`),
      `addresses ${seen.multiaddrs.map(String)}`)
    // The node relays the record A registered with, and the client verified it.
    const [listed] = watcher.services.wsStar.getPeers(NS)
    assert.equal(listed.verified, true)
  })

  step('unregister removes the peer from discover results and from live views', { timeout: 30_000 }, async () => {
    const aId = a.peerId
    const left = nextEvent(watcher.services.wsStar, 'peer:left', (d) => d.id.equals(aId), 15_000)
    await a.services.rendezvous.unregister(node.addr, NS)
    assert.equal((await left).reason, 'left')
    const page = await b.services.rendezvous.discover(node.addr, { namespace: NS })
    assert.ok(!page.registrations.some((r) => r.id.equals(aId)), 'A is still registered')
  })

  step('the node\'s statuses arrive as ServerStatusError with code and name', { timeout: 30_000 }, async () => {
    await assert.rejects(a.services.rendezvous.register(node.addr, NS, { ttl: 0 }), InvalidParametersError)
    await assert.rejects(a.services.rendezvous.register(node.addr, 'x'.repeat(256)), InvalidParametersError)
    await assert.rejects(b.services.rendezvous.discover(node.addr, { namespace: NS, cookie: new Uint8Array([1, 2, 3]) }),
      (err) => err instanceof ServerStatusError && err.status === 103 && err.statusName === 'E_INVALID_COOKIE')
  })
})

/** Reserves a relay slot on the node, as an app listening on <node>/p2p-circuit does. */
function listenOnRelay (peer, nodeAddr) {
  return peer.services.transports.listen([multiaddr(`${nodeAddr}/p2p-circuit`)])
}
