// wsStar() with two nodes: joins both, reports a peer seen on both once, and
// keeps it while one node is still listing it.
import '../test-support/polyfill.js'
import assert from 'node:assert/strict'
import { after, before, describe } from 'node:test'
import { scenario } from '../test-support/scenario.js'
import { startNode } from '../test-support/node.js'
import { createPeer, eventually, nextEvent } from '../test-support/peer.js'

const NS = 'ws-star-multi-test'

describe('wsStar with several nodes', { timeout: 120_000 }, () => {
  const step = scenario()
  let n1, n2, a, b

  before(async () => {
    [n1, n2] = await Promise.all([startNode(), startNode()])
  })

  after(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()])
    await Promise.allSettled([n1?.cleanup(), n2?.cleanup()])
  })

  step('a peer announced on both nodes is one peer with a circuit address through each', { timeout: 30_000 }, async () => {
    const servers = [n1.addr, n2.addr]
    a = await createPeer({ wsStar: { servers, namespaces: [NS], announce: false } })
    const peerEvents = []
    a.services.wsStar.addEventListener('peer', (evt) => peerEvents.push(evt.detail.id.toString()))
    b = await createPeer({ wsStar: { servers, namespaces: [NS] } })
    const want = [`${n1.addr}/p2p-circuit`, `${n2.addr}/p2p-circuit`].sort()
    await eventually(() => `B listed through both nodes; A sees ${JSON.stringify(a.services.wsStar.getPeers(NS).map((p) => [p.id.toString(), p.multiaddrs.map(String)]))}`, () => {
      const peers = a.services.wsStar.getPeers(NS)
      return peers.length === 1 && peers[0].multiaddrs.map(String).sort().join() === want.join()
    })
    assert.ok(peerEvents.every((id) => id === b.peerId.toString()))
    // One event when B first appears, at most one more when the second node adds an address.
    assert.ok(peerEvents.length >= 1 && peerEvents.length <= 2, `${peerEvents.length} peer events`)
    assert.deepEqual(a.services.wsStar.getServers().map((s) => s.connected), [true, true])
  })

  step('losing one node keeps the peer listed through the other', { timeout: 30_000 }, async () => {
    const bId = b.peerId
    let left = 0
    a.services.wsStar.addEventListener('peer:left', (evt) => { if (evt.detail.id.equals(bId)) left++ })
    const disconnected = nextEvent(a.services.wsStar, 'server:disconnected', (d) => d.server.toString() === n1.addr)
    await n1.stop()
    await disconnected
    assert.equal(left, 0, 'B was reported as left while n2 still lists it')
    assert.deepEqual(a.services.wsStar.getPeers().map((p) => p.id.toString()), [bId.toString()])

    const gone = nextEvent(a.services.wsStar, 'peer:left', (d) => d.id.equals(bId))
    await b.stop()
    b = undefined
    assert.equal((await gone).reason, 'left')
    assert.equal(left, 1)
  })
})
