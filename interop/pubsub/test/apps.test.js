// Two js-libp2p apps built on @libp2p/pubsub-peer-discovery and
// @libp2p/gossipsub, connected only to the real rendezvous node, find each
// other through it and reach each other through its relay.
import '../../shared/polyfill.mjs'
import assert from 'node:assert/strict'
import { after, before, describe } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { startRendezvousNode } from '../../shared/rendezvous-node.mjs'
import { scenario } from '../../shared/scenario.mjs'
import { createApp } from '../app.js'
import { FAST_NODE, INTERVAL, stopAll } from '../suite.js'

describe('pubsub-peer-discovery apps through the rendezvous node', { timeout: 120_000 }, () => {
  const step = scenario()
  let node, a, b

  before(async () => {
    node = await startRendezvousNode({ config: FAST_NODE })
  })

  after(() => stopAll(node, [a, b]))

  step('two apps connected only to the node find each other at their circuit addresses', { timeout: 30_000 }, async (t) => {
    a = await createApp(node.addr, { interval: INTERVAL })
    b = await createApp(node.addr, { interval: INTERVAL })
    const [aFound, bFound] = await Promise.all([
      a.found(b.peerId, node.addr, 20_000),
      b.found(a.peerId, node.addr, 20_000)
    ])
    assert.ok(aFound.addrs.includes(b.circuitAddr(node.addr)), `a learned ${aFound.addrs.join(', ')}`)
    assert.ok(bFound.addrs.includes(a.circuitAddr(node.addr)), `b learned ${bFound.addrs.join(', ')}`)
    for (const app of [a, b]) {
      const peers = app.libp2p.getConnections().map((c) => c.remotePeer.toString())
      assert.deepEqual([...new Set(peers)], [node.peerId], 'an app is connected to another peer than the node')
    }
    t.diagnostic(`a found b ${(aFound.at - a.started).toFixed(0)} ms after starting, ` +
      `b found a ${(bFound.at - b.started).toFixed(0)} ms after starting (interval ${INTERVAL} ms)`)
  })

  step('each dials the other at the discovered address and pings it through the relay', { timeout: 30_000 }, async (t) => {
    for (const [from, to] of [[a, b], [b, a]]) {
      const addr = multiaddr(to.circuitAddr(node.addr))
      const rtt = await from.libp2p.services.ping.ping(addr, { signal: AbortSignal.timeout(15_000) })
      assert.equal(typeof rtt, 'number')
      const conns = from.libp2p.getConnections(to.peerId)
      assert.ok(conns.length > 0, 'no connection after the ping')
      assert.ok(conns.every((c) => c.remoteAddr.toString().includes('/p2p-circuit')),
        `not relayed: ${conns.map((c) => c.remoteAddr.toString()).join(', ')}`)
      t.diagnostic(`ping ${from === a ? 'a → b' : 'b → a'} through the relay: ${rtt} ms`)
    }
  })
})
