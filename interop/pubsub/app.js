// js-libp2p 3.x apps that find their peers with @libp2p/pubsub-peer-discovery
// over @libp2p/gossipsub, configured as those packages' READMEs configure
// them, and a hostile one. Their only connection is to the rendezvous node:
// each listens on <node>/p2p-circuit, so it holds a relay reservation there
// and others reach it at <node>/p2p-circuit/p2p/<app>.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { pubsubPeerDiscovery } from '@libp2p/pubsub-peer-discovery'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { eventually } from '../shared/scenario.mjs'
// The package's own codec of its Peer message (not among its exports).
import { Peer } from './node_modules/@libp2p/pubsub-peer-discovery/dist/src/peer.js'

/** pubsub-peer-discovery's default topic, the one the node serves by default. */
export const TOPIC = '_peer-discovery._p2p._pubsub'

/**
 * What every peer of these suites shares: WebSockets to the node, its relay,
 * noise and yamux.
 */
export const transports = () => ({
  transports: [webSockets(), circuitRelayTransport()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  // @libp2p/websockets refuses plain /ws to loopback through the default
  // gater; the node under test only listens there.
  connectionGater: { denyDialMultiaddr: () => false }
})

/**
 * Starts an app and records, from its start, every peer:discovery event and
 * every gossipsub message it receives.
 *
 * @param {string} nodeAddr the node's multiaddr, ending in /p2p/<node id>
 * @param {object} [opts]
 * @param {number} [opts.interval] pubsub-peer-discovery's interval (ms; default 10 s)
 * @param {string[]} [opts.topics] its topics (default [TOPIC])
 */
export async function createApp (nodeAddr, opts = {}) {
  const libp2p = await createLibp2p({
    // Started below, once the recorders listen: the node may announce the
    // namespace's members within milliseconds of the app subscribing.
    start: false,
    addresses: { listen: [`${nodeAddr}/p2p-circuit`] },
    ...transports(),
    peerDiscovery: [pubsubPeerDiscovery({ interval: opts.interval ?? 10_000, topics: opts.topics ?? [TOPIC] })],
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub()
    }
  })
  const app = new Recorded(libp2p)
  await libp2p.start()
  app.started = performance.now()
  return app
}

/** An app and what it heard. */
class Recorded {
  constructor (libp2p) {
    this.libp2p = libp2p
    this.peerId = libp2p.peerId
    /** @type {Array<{ id: string, addrs: string[], at: number }>} peer:discovery events */
    this.discoveries = []
    /** @type {Array<{ from: string, topic: string, data: Uint8Array }>} gossipsub messages */
    this.messages = []
    libp2p.addEventListener('peer:discovery', (evt) => {
      this.discoveries.push({ id: evt.detail.id.toString(), addrs: evt.detail.multiaddrs.map(String), at: performance.now() })
    })
    libp2p.services.pubsub.addEventListener('message', (evt) => {
      const m = evt.detail
      this.messages.push({ from: m.type === 'signed' ? m.from.toString() : '', topic: m.topic, data: m.data })
    })
  }

  /** Every address a peer:discovery event gave for id. */
  addrsOf (id) {
    return this.discoveries.filter((d) => d.id === id.toString()).flatMap((d) => d.addrs)
  }

  /**
   * Resolves with the first peer:discovery event of id that lists an address
   * through the node, waiting up to ms.
   */
  found (id, nodeAddr, ms) {
    return eventually(() => this.discoveries.find((d) => d.id === id.toString() && viaNode(d.addrs, nodeAddr, id)),
      ms, `${this.peerId} did not discover ${id} at an address through the node`)
  }

  /** The app's circuit address through the node. */
  circuitAddr (nodeAddr) {
    return `${nodeAddr}/p2p-circuit/p2p/${this.peerId}`
  }

  stop () { return this.libp2p.stop() }
}

/**
 * Whether addrs hold id's address through the node: <node>/p2p-circuit,
 * with or without /p2p/<id> (registrations and records leave it out).
 */
export function viaNode (addrs, nodeAddr, id) {
  const circuit = `${nodeAddr}/p2p-circuit`
  return addrs.map(String).some((a) => a === circuit || a === `${circuit}/p2p/${id}`)
}

/**
 * A hostile app: gossipsub on the discovery topic without
 * pubsub-peer-discovery, publishing what no honest app does.
 */
export async function createHostileApp (nodeAddr, nodePeerId) {
  const libp2p = await createLibp2p({
    addresses: { listen: [`${nodeAddr}/p2p-circuit`] },
    ...transports(),
    services: { identify: identify(), pubsub: gossipsub() }
  })
  const pubsub = libp2p.services.pubsub
  pubsub.subscribe(TOPIC)
  await eventually(() => pubsub.getSubscribers(TOPIC).some((p) => p.toString() === nodePeerId) || undefined,
    15_000, 'the hostile app never saw the node subscribed to the discovery topic')
  return {
    libp2p,
    peerId: libp2p.peerId,
    /** Announces someone else: publicKey is another peer's. */
    forge: (publicKey, addrs) => pubsub.publish(TOPIC, encodePeer(publicKey, addrs)),
    /** Publishes data that is not a Peer message on the discovery topic. */
    junk: (data) => pubsub.publish(TOPIC, data),
    /**
     * Publishes on a topic the node does not serve. js gossipsub sends a
     * topic's messages only to peers it believes subscribed, and the node
     * never subscribes to it: so this app is told it did.
     */
    unserved: async (topic, data) => {
      const peers = pubsub.topics.get(topic) ?? new Set()
      peers.add(nodePeerId)
      pubsub.topics.set(topic, peers)
      await pubsub.publish(topic, data)
    },
    stop: () => libp2p.stop()
  }
}

/** The Peer message pubsub-peer-discovery publishes, for any key and addresses. */
export function encodePeer (publicKey, addrs) {
  return Peer.encode({ publicKey: publicKeyToProtobuf(publicKey), addrs: addrs.map((a) => a.bytes) })
}
