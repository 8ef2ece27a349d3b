// pubsub-peer-discovery's topic is a namespace of the node like any other:
// a js-libp2p app built on @libp2p/pubsub-peer-discovery finds the peers that
// joined it over /ws-star/1.0.0 and /rendezvous/1.0.0 (with the repository's
// own client, @ws-star/libp2p-client), they find the app, and it leaves when
// it stops.
import '../../shared/polyfill.mjs'
import assert from 'node:assert/strict'
import { after, before, describe } from 'node:test'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { startRendezvousNode } from '../../shared/rendezvous-node.mjs'
import { eventually, scenario, withTimeout } from '../../shared/scenario.mjs'
import { createApp, TOPIC, transports, viaNode } from '../app.js'
import { rendezvousClient, wsStar } from '../client.js'
import { metric } from '../metrics.js'
import { FAST_NODE, INTERVAL, stopAll } from '../suite.js'

describe('pubsub-peer-discovery apps, ws-star and rendezvous peers in one namespace', { timeout: 120_000 }, () => {
  const step = scenario()
  let node, app, live, registrant
  const seen = new Map() // what the ws-star peer's view shows: id -> { addrs, verified }
  const left = new Map() // id -> { reason, at }

  before(async () => {
    node = await startRendezvousNode({ config: FAST_NODE })
    // A ws-star peer: a member of the namespace and a watcher of it.
    live = await createLibp2p({
      ...transports(),
      services: { identify: identify(), ping: ping(), wsStar: wsStar({ servers: [node.addr], namespaces: [TOPIC] }) }
    })
    live.services.wsStar.addEventListener('peer', ({ detail }) => {
      seen.set(detail.id.toString(), { addrs: detail.multiaddrs.map(String) })
    })
    live.services.wsStar.addEventListener('peer:left', ({ detail }) => {
      left.set(detail.id.toString(), { reason: detail.reason, at: performance.now() })
    })
    // A rendezvous peer, registered in the namespace with its circuit
    // address.
    registrant = await createLibp2p({
      addresses: { listen: [`${node.addr}/p2p-circuit`] },
      ...transports(),
      services: { identify: identify(), ping: ping(), rendezvous: rendezvousClient() }
    })
    await eventually(() => registrant.getMultiaddrs().find((a) => a.toString().includes('/p2p-circuit')),
      15_000, 'the rendezvous peer got no circuit address')
    await registrant.services.rendezvous.register(node.addr, TOPIC, { ttl: 7200 })
  })

  after(() => stopAll(node, [app, live, registrant]))

  step('an app finds the ws-star member and the rendezvous registration and reaches both through the relay', { timeout: 30_000 }, async (t) => {
    app = await createApp(node.addr, { interval: INTERVAL })
    for (const [what, peer] of [['ws-star member', live], ['rendezvous registration', registrant]]) {
      const found = await app.found(peer.peerId, node.addr, 15_000)
      const rtt = await app.libp2p.services.ping.ping(multiaddr(`${node.addr}/p2p-circuit/p2p/${peer.peerId}`),
        { signal: AbortSignal.timeout(15_000) })
      t.diagnostic(`${what} found ${(found.at - app.started).toFixed(0)} ms after the app started; ping ${rtt} ms`)
    }
  })

  step('a ws-star watcher and a rendezvous DISCOVER find the app at its circuit address, with its signed record', { timeout: 30_000 }, async (t) => {
    const id = app.peerId.toString()
    await eventually(() => viaNode(seen.get(id)?.addrs ?? [], node.addr, id) || undefined,
      15_000, `the ws-star watcher did not list the app through the node: ${JSON.stringify(seen.get(id))}`)
    t.diagnostic(`ws-star view: ${seen.get(id).addrs.length} addresses`)
    // The node asks the app for its record (identify on connect had none:
    // the app had no address before its reservation): the watcher verifies
    // it, and DISCOVER, which answers with signed records only, returns it.
    await eventually(() => live.services.wsStar.getPeers(TOPIC).find((p) => p.id.toString() === id && p.verified),
      15_000, 'the ws-star watcher has no verified record of the app')
    const reg = await eventually(async () => {
      const { registrations } = await registrant.services.rendezvous.discover(node.addr, { namespace: TOPIC })
      return registrations.find((r) => r.id.toString() === id)
    }, 15_000, 'DISCOVER did not return the app')
    assert.ok(viaNode(reg.multiaddrs, node.addr, id), `DISCOVER gave ${reg.multiaddrs.map(String).join(', ')}`)
  })

  step('a stopped app leaves: the watcher sees it go, DISCOVER no longer returns it, the node holds no pubsub member', { timeout: 30_000 }, async (t) => {
    const id = app.peerId.toString()
    assert.equal(await metric(node, 'rendezvous_pubsub_members'), 1)
    const stopped = performance.now()
    await app.stop()
    const gone = await withTimeout(eventually(() => left.get(id), 10_000, 'no peer:left'), 11_000, 'no peer:left')
    assert.ok(['left', 'disconnected'].includes(gone.reason), `peer:left reason ${gone.reason}`)
    t.diagnostic(`the watcher saw the app leave (${gone.reason}) ${(gone.at - stopped).toFixed(0)} ms after app.stop() began`)
    await eventually(async () => {
      const { registrations } = await registrant.services.rendezvous.discover(node.addr, { namespace: TOPIC })
      return registrations.some((r) => r.id.toString() === id) ? undefined : true
    }, 10_000, 'DISCOVER still returns the stopped app')
    assert.equal(await metric(node, 'rendezvous_pubsub_members'), 0)
    assert.equal(await metric(node, 'rendezvous_pubsub_subscribers', { topic: TOPIC }), 0)
    // The others are still there.
    assert.ok(live.services.wsStar.getPeers(TOPIC).some((p) => p.id.equals(registrant.peerId)))
  })
})
