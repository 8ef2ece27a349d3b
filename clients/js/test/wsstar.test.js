// wsStar() against the real rendezvous node binary: discovery, data through
// the relay, leaves, and reconnecting after the node restarts.
import '../test-support/polyfill.js'
import assert from 'node:assert/strict'
import { after, before, describe } from 'node:test'
import { scenario } from '../test-support/scenario.js'
import { startNode } from '../test-support/node.js'
import { createPeer, eventually, nextEvent } from '../test-support/peer.js'

const NS = 'ws-star-client-test'
const ECHO = '/ws-star-client-test/echo/1.0.0'
// The node flushes view changes every 100 ms; a second leaves room for a
// busy machine while still proving the views are pushed, not polled.
const DISCOVERY_BOUND_MS = 1_000

describe('wsStar discovery through the rendezvous node', { timeout: 120_000 }, () => {
  const step = scenario()
  let node, a, b

  before(async () => {
    node = await startNode()
  })

  after(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()])
    await node?.cleanup()
  })

  step('two clients discover each other within a second of joining', { timeout: 30_000 }, async (t) => {
    const init = { wsStar: { servers: [node.addr], namespaces: [NS] } }
    a = await createPeer(init)
    await nextEvent(a.services.wsStar, 'join', (d) => d.namespace === NS, 15_000)
    // A is in the namespace; B starts now and both must see each other.
    const started = performance.now()
    b = await createPeer(init)
    const bJoined = nextEvent(b.services.wsStar, 'join', (d) => d.namespace === NS, 15_000)
      .then(() => performance.now())
    const [aSawB, bSawA] = await Promise.all([
      nextEvent(a.services.wsStar, 'peer', (d) => d.id.equals(b.peerId), 15_000).then((d) => ({ d, at: performance.now() })),
      nextEvent(b.services.wsStar, 'peer', (d) => d.id.equals(a.peerId), 15_000).then((d) => ({ d, at: performance.now() }))
    ])
    const joinedAt = await bJoined
    t.diagnostic(`B started -> joined ${(joinedAt - started).toFixed(0)} ms; joined -> A sees B ${(aSawB.at - joinedAt).toFixed(0)} ms, B sees A ${(bSawA.at - joinedAt).toFixed(0)} ms`)
    assert.ok(aSawB.at - joinedAt < DISCOVERY_BOUND_MS, `A saw B ${aSawB.at - joinedAt} ms after B joined`)
    assert.ok(bSawA.at - joinedAt < DISCOVERY_BOUND_MS, `B saw A ${bSawA.at - joinedAt} ms after B joined`)
    // Both are listed with their circuit address through the node.
    assert.deepEqual(aSawB.d.multiaddrs.map(String), [`${node.addr}/p2p-circuit`])
    assert.deepEqual(bSawA.d.multiaddrs.map(String), [`${node.addr}/p2p-circuit`])
    assert.deepEqual(a.services.wsStar.getPeers(NS).map((p) => p.id.toString()), [b.peerId.toString()])
    // Neither client registered through /rendezvous/1.0.0 nor runs identify
    // push: the node still hands out their signed records, learned by asking
    // identify again once they announce, and the receivers verify them.
    for (const [self, other] of [[a, b], [b, a]]) {
      await eventually(() => `${self.peerId} to hold a verified record of ${other.peerId}: ${JSON.stringify(self.services.wsStar.getPeers(NS))}`,
        () => self.services.wsStar.getPeers(NS).find((p) => p.id.equals(other.peerId))?.verified === true)
    }
  })

  step('the discovered address reaches the peer through the relay', { timeout: 30_000 }, async () => {
    await echoRoundTrip(b, a)
    await echoRoundTrip(a, b)
  })

  step('a stopped client is reported as peer:left with reason "left"', { timeout: 20_000 }, async () => {
    const bId = b.peerId
    const left = nextEvent(a.services.wsStar, 'peer:left', (d) => d.id.equals(bId))
    await b.stop()
    b = undefined
    const detail = await left
    assert.equal(detail.reason, 'left')
    assert.deepEqual(a.services.wsStar.getPeers(), [])
  })

  step('after a node restart with the same identity both clients reconnect, re-reserve and re-join', { timeout: 60_000 }, async (t) => {
    b = await createPeer({ wsStar: { servers: [node.addr], namespaces: [NS] } })
    await nextEvent(a.services.wsStar, 'peer', (d) => d.id.equals(b.peerId), 15_000)

    const lostA = nextEvent(a.services.wsStar, 'peer:left', (d) => d.id.equals(b.peerId), 15_000)
    const lostB = nextEvent(b.services.wsStar, 'peer:left', (d) => d.id.equals(a.peerId), 15_000)
    const status = await node.stop()
    assert.equal(status.code, 0, `node exit ${JSON.stringify(status)}`)
    assert.equal((await lostA).reason, 'unreachable')
    assert.equal((await lostB).reason, 'unreachable')

    const backA = nextEvent(a.services.wsStar, 'peer', (d) => d.id.equals(b.peerId), 30_000)
    const backB = nextEvent(b.services.wsStar, 'peer', (d) => d.id.equals(a.peerId), 30_000)
    const restarted = performance.now()
    await node.restart()
    await Promise.all([backA, backB])
    t.diagnostic(`re-discovered ${(performance.now() - restarted).toFixed(0)} ms after the restart began`)
    // The relay reservation was made again: the circuit address works.
    await echoRoundTrip(b, a)
  })
})

/** from dials to's discovered address, sends 64 KiB and expects them echoed. */
async function echoRoundTrip (from, to) {
  if (!to.getProtocols().includes(ECHO)) {
    await to.handle(ECHO, (stream) => {
      stream.addEventListener('message', (evt) => { stream.send(evt.data) })
      stream.addEventListener('end', () => { stream.close().catch(() => {}) })
    }, { runOnLimitedConnection: true })
  }
  const peer = from.services.wsStar.getPeers().find((p) => p.id.equals(to.peerId))
  assert.ok(peer, `${to.peerId} is not among the discovered peers`)
  const stream = await from.dialProtocol(peer.multiaddrs.map((ma) => ma.encapsulate(`/p2p/${to.peerId}`)), ECHO, {
    signal: AbortSignal.timeout(15_000), runOnLimitedConnection: true
  })
  const sent = new Uint8Array(64 * 1024).map((_, i) => i % 251)
  const chunks = []
  let received = 0
  const done = new Promise((resolve, reject) => {
    stream.addEventListener('message', (evt) => {
      for (const part of evt.data instanceof Uint8Array ? [evt.data] : evt.data) {
        chunks.push(part.slice())
        received += part.byteLength
      }
      if (received >= sent.length) resolve()
    })
    stream.addEventListener('close', (evt) => reject(evt.error ?? new Error(`closed after ${received} bytes`)))
  })
  stream.send(sent)
  await done
  await stream.close()
  assert.deepEqual(Buffer.concat(chunks), Buffer.from(sent))
  await eventually('the relayed connection to be listed', () =>
    from.getConnections(to.peerId).some((c) => c.remoteAddr.toString().includes('/p2p-circuit')))
}
