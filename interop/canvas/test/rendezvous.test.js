// The third-party @canvas-js/libp2p-rendezvous client (js-libp2p 2.x line)
// against the real node's /canvas/rendezvous/1.0.0: two relayed peers
// register in one namespace and find each other.
import '../../shared/polyfill.mjs'
import assert from 'node:assert/strict'
import { after, before, describe } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { startRendezvousNode } from '../../shared/rendezvous-node.mjs'
import { eventually, scenario, withTimeout } from '../../shared/scenario.mjs'
import { circuitAddrs, createPeer } from '../peer.js'

const PROTOCOL = '/canvas/rendezvous/1.0.0'
const NS = 'interop/canvas'

describe('canvas rendezvous client through the node', { timeout: 120_000 }, () => {
  const step = scenario()
  let node, p, q, qFoundP

  before(async () => {
    node = await startRendezvousNode()
  })

  after(async () => {
    await Promise.allSettled([p?.stop(), q?.stop()])
    if (node != null) {
      const status = await node.stop()
      assert.equal(status.killed, false, 'node did not exit within the grace period after SIGTERM')
      assert.equal(status.code, 0, `node exited with ${JSON.stringify(status)}\n${node.stderrTail()}`)
    }
  })

  step('peer P holds a relay reservation and sees the canvas protocol', { timeout: 30_000 }, async () => {
    p = await createPeer(node.addr)
    assert.ok(circuitAddrs(p, node.addr).length > 0, `no circuit address in ${p.getMultiaddrs()}`)
    // identify runs right after the reservation's connection opens
    await eventually(async () => {
      const id = p.getPeers().find((peer) => peer.toString() === node.peerId)
      if (id == null) return undefined
      const { protocols } = await p.peerStore.get(id)
      return protocols.includes(PROTOCOL) ? true : undefined
    }, 15_000, `node never listed ${PROTOCOL} in identify`)
  })

  step('peer P registers and gets a TTL', { timeout: 20_000 }, async () => {
    const { ttl } = await withPoint(p, node, (point) => point.register(NS))
    // 0 or absent would make the client re-register every 30 s
    assert.ok(Number.isFinite(ttl) && ttl > 0 && ttl <= 72 * 3600, `granted ttl ${ttl}`)
  })

  step('peer Q, set to auto-register, discovers P on its own', { timeout: 30_000 }, async () => {
    q = await createPeer(node.addr, {
      autoRegister: { namespaces: [NS], multiaddrs: [node.addr], initialTimeout: 0, retryInterval: 1000 },
      autoDiscover: true
    }, { start: false })
    const discovered = new Promise((resolve) => {
      // the client's own event for each peer its auto-discovery returns
      q.services.rendezvous.addEventListener('peer', (evt) => {
        if (evt.detail.id.equals(p.peerId)) resolve(evt.detail)
      })
    })
    await q.start()
    qFoundP = await withTimeout(discovered, 20_000, 'Q never discovered P')
    const addrs = qFoundP.addresses.map((a) => a.multiaddr.toString())
    assert.ok(addrs.some((a) => a.startsWith(`${node.addr}/p2p-circuit`)),
      `P's discovered addresses are not relayed through the node: ${addrs}`)
  })

  step('peer P discovers Q without seeing itself', { timeout: 30_000 }, async () => {
    const peers = await eventually(async () => {
      const found = await withPoint(p, node, (point) => point.discover(NS))
      return found.some((peer) => peer.id.equals(q.peerId)) ? found : undefined
    }, 20_000, 'P never discovered Q (Q did not register?)')
    assert.ok(!peers.some((peer) => peer.id.equals(p.peerId)), 'discover returned the caller itself')
  })

  step('Q reaches P through the node by the discovered record', { timeout: 30_000 }, async () => {
    // discover() stored P's certified addresses in Q's peer store
    const conn = await q.dial(qFoundP.id, { signal: AbortSignal.timeout(20_000) })
    assert.ok(conn.remotePeer.equals(p.peerId))
    assert.match(conn.remoteAddr.toString(), /\/p2p-circuit/)
  })

  step('an unregistered peer is no longer discovered', { timeout: 30_000 }, async () => {
    // The client sends UNREGISTER without waiting for anything and closes
    // the stream when the callback returns, which can drop the message; a
    // DISCOVER after it on the same stream makes sure it was sent.
    await withPoint(p, node, async (point) => {
      await point.unregister(NS)
      await point.discover(NS)
    })
    await eventually(async () => {
      const peers = await withPoint(q, node, (point) => point.discover(NS))
      return peers.some((peer) => peer.id.equals(p.peerId)) ? undefined : true
    }, 20_000, 'P was still discovered after unregistering')
  })
})

/** Runs fn with a rendezvous point on the node, over a fresh stream. */
function withPoint (peer, node, fn) {
  return peer.services.rendezvous.connect(multiaddr(node.addr), fn)
}
