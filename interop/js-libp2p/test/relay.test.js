// Browser-like js-libp2p 3.x peers against the real rendezvous node binary:
// connect over /ws, identify, ping, reserve a relay slot, and move 64 MiB
// through an unlimited circuit.
import '../../shared/polyfill.mjs'
import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import { after, before, describe } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { startRendezvousNode } from '../../shared/rendezvous-node.mjs'
import { scenario, withTimeout } from '../../shared/scenario.mjs'
import { createPeer } from '../peer.js'
import { echo, receiveHash, sendRandom } from '../stream.js'

const HOP = '/libp2p/circuit/relay/0.2.0/hop'
const ECHO = '/interop/echo/1.0.0'
const ECHO_BYTES = 64 * 1024 * 1024

describe('js-libp2p 3.x clients through the rendezvous node', { timeout: 240_000 }, () => {
  const step = scenario()
  let node, a, b, nodeAddr, identified

  before(async () => {
    node = await startRendezvousNode()
    nodeAddr = multiaddr(node.addr)
    a = await createPeer()
    b = await createPeer()
    await a.handle(ECHO, (stream) => echo(stream))
    // Subscribe before dialing: identify may finish before dial() returns.
    identified = new Promise((resolve) => {
      a.addEventListener('peer:identify', (evt) => {
        if (evt.detail.peerId.toString() === node.peerId) resolve(evt.detail)
      })
    })
  })

  after(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()])
    if (node != null) {
      const status = await node.stop()
      assert.equal(status.killed, false, 'node did not exit within the grace period after SIGTERM')
      assert.equal(status.code, 0, `node exited with ${JSON.stringify(status)}\n${node.stderrTail()}`)
    }
  })

  step('peer A connects to the node over /ws', { timeout: 20_000 }, async () => {
    const conn = await a.dial(nodeAddr, { signal: AbortSignal.timeout(15_000) })
    assert.equal(conn.remotePeer.toString(), node.peerId)
    assert.match(conn.remoteAddr.toString(), /\/ws/)
  })

  step('identify lists the relay hop protocol', { timeout: 20_000 }, async () => {
    const result = await withTimeout(identified, 15_000, 'identify did not complete')
    assert.ok(result.protocols.includes(HOP), `node protocols: ${result.protocols.join(', ')}`)
    assert.ok(result.protocols.includes('/ipfs/ping/1.0.0'), `node protocols: ${result.protocols.join(', ')}`)
  })

  step('ping reports a round-trip time', { timeout: 20_000 }, async () => {
    const rtt = await a.services.ping.ping(nodeAddr, { signal: AbortSignal.timeout(15_000) })
    assert.equal(typeof rtt, 'number')
    assert.ok(rtt >= 0)
  })

  step('peer A reserves a relay slot and gets a circuit address', { timeout: 30_000 }, async () => {
    await a.services.transports.listen([multiaddr(`${node.addr}/p2p-circuit`)])
    const circuit = a.getMultiaddrs().map(String)
      .find((ma) => ma.startsWith(`${node.addr}/p2p-circuit/p2p/${a.peerId}`))
    assert.ok(circuit, `no circuit address through the node in ${JSON.stringify(a.getMultiaddrs().map(String))}`)
  })

  step('peer B reaches A through the node and 64 MiB echo back intact on an unlimited connection',
    { timeout: 180_000 }, async (t) => {
      const signal = AbortSignal.timeout(170_000)
      const conn = await b.dial(multiaddr(`${node.addr}/p2p-circuit/p2p/${a.peerId}`), { signal })
      assert.equal(conn.remotePeer.toString(), a.peerId.toString())
      assert.match(conn.remoteAddr.toString(), /\/p2p-circuit\//)
      assert.equal(conn.limits, undefined, `relayed connection is limited: ${inspect(conn.limits)}`)

      const stream = await conn.newStream(ECHO, { signal })
      const started = performance.now()
      const [sentHash, echoedHash] = await Promise.all([
        sendRandom(stream, ECHO_BYTES, { signal }),
        receiveHash(stream, ECHO_BYTES, { signal })
      ])
      const seconds = (performance.now() - started) / 1000
      await stream.close({ signal })
      assert.equal(echoedHash, sentHash, 'echoed data differs from what was sent')
      const mib = ECHO_BYTES / (1024 * 1024)
      t.diagnostic(`echoed ${mib} MiB in ${seconds.toFixed(1)} s (${(mib / seconds).toFixed(1)} MiB/s each way)`)
    })
})
