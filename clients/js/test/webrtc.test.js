// wsStar({ webRTC }) against the real rendezvous node, in Node.js: the
// discovered peer's <node>/p2p-circuit/webrtc address reaches the dialer, a
// WebRTC attempt that fails leaves the relayed connection in use, and asking
// for WebRTC without a WebRTC transport fails at start. (The upgrade itself
// is tested in Chromium: examples/browser/test.)
import '../test-support/polyfill.js'
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { InvalidParametersError, wsStar } from '../src/index.js'
import { scenario } from '../test-support/scenario.js'
import { startNode } from '../test-support/node.js'
import { createPeer, nextEvent } from '../test-support/peer.js'

const NS = 'ws-star-client-webrtc'
const ECHO = '/ws-star-client-test/echo/1.0.0'

describe('wsStar webRTC option through the rendezvous node', { timeout: 60_000 }, () => {
  const step = scenario()
  let node, listener, dialer

  before(async () => { node = await startNode() })
  after(async () => {
    await Promise.allSettled([listener?.stop(), dialer?.stop()])
    await node?.cleanup()
  })

  step('a peer advertising WebRTC through the node is listed with that address, and a failed WebRTC dial falls back to the relay', { timeout: 40_000 }, async () => {
    // What a browser listening on /webrtc advertises once it holds a
    // reservation; this Node.js peer has no WebRTC transport, so every
    // WebRTC dial to it fails, as one behind a NAT that needs TURN.
    const circuit = `${node.addr}/p2p-circuit`
    listener = await createPeer({
      wsStar: { servers: [node.addr], namespaces: [NS] },
      libp2p: { addresses: { listen: [], announce: [circuit, `${circuit}/webrtc`] } }
    })
    await listener.handle(ECHO, (stream) => {
      stream.addEventListener('message', (evt) => { stream.send(evt.data) })
      stream.addEventListener('end', () => { stream.close().catch(() => {}) })
    }, { runOnLimitedConnection: true })
    await nextEvent(listener.services.wsStar, 'join', (d) => d.namespace === NS, 15_000)

    // listen: false: the dialer has no WebRTC transport either. Without
    // record verification it sees only the node's own address list for the
    // peer: the WebRTC address must be in that too.
    dialer = await createPeer({ wsStar: { servers: [node.addr], namespaces: [NS], verifyRecords: false, webRTC: { listen: false, timeout: 5_000 } } })
    const failed = nextEvent(dialer.services.wsStar, 'direct:error', (d) => d.id.equals(listener.peerId), 20_000)
    const seen = await nextEvent(dialer.services.wsStar, 'peer', (d) => d.id.equals(listener.peerId) &&
      d.multiaddrs.some((ma) => ma.toString() === `${circuit}/webrtc`), 15_000)
    assert.ok(seen.multiaddrs.some((ma) => ma.toString() === circuit), seen.multiaddrs.map(String).join(' '))
    const { error } = await failed
    assert.ok(error instanceof Error)
    assert.equal(dialer.services.wsStar.getPeers(NS).find((p) => p.id.equals(listener.peerId))?.direct, false)

    // The peer is still reached, through the relay.
    const stream = await dialer.dialProtocol(listener.peerId, ECHO, { signal: AbortSignal.timeout(10_000), runOnLimitedConnection: true })
    const echoed = new Promise((resolve) => stream.addEventListener('message', (evt) => resolve(evt.data.subarray())))
    stream.send(new TextEncoder().encode('still here'))
    assert.equal(new TextDecoder().decode(await echoed), 'still here')
    await stream.close()
    const conns = dialer.getConnections(listener.peerId)
    assert.ok(conns.length > 0 && conns.every((c) => c.remoteAddr.toString().startsWith(circuit)), conns.map((c) => String(c.remoteAddr)).join(' '))
    assert.ok(conns.every((c) => !c.remoteAddr.toString().includes('/webrtc')))
  })
})

test('webRTC without a WebRTC transport fails at start with InvalidParametersError', { timeout: 20_000 }, async () => {
  await assert.rejects(
    createPeer({ wsStar: { servers: ['/ip4/127.0.0.1/tcp/1/ws/p2p/12D3KooWAJjbRkp8FPF5MKgMU53aUTxWkqvDrs4zc1VMbwRwfsbE'], namespaces: [NS], webRTC: true } }),
    (err) => err instanceof InvalidParametersError && /webRTC\(\) transport/.test(err.message)
  )
})

test('webRTC options are checked', () => {
  const init = { servers: ['/ip4/127.0.0.1/tcp/1/ws/p2p/12D3KooWAJjbRkp8FPF5MKgMU53aUTxWkqvDrs4zc1VMbwRwfsbE'], namespaces: [NS] }
  assert.throws(() => wsStar({ ...init, webRTC: 'yes' }), InvalidParametersError)
  assert.throws(() => wsStar({ ...init, webRTC: { timeout: -1 } }), InvalidParametersError)
  assert.doesNotThrow(() => wsStar({ ...init, webRTC: { listen: false, timeout: 1_000, responderDelay: 0 } }))
})
