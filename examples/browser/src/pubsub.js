// The demo's pubsub mode: peers are found with @libp2p/pubsub-peer-discovery
// over @libp2p/gossipsub, as any js-libp2p app configures them, through the
// node (which serves the discovery topic, and announces its members, whether
// they came over pubsub, ws-star or rendezvous). PubsubPeers follows what
// the discovery reports and tells the page with the events of the ws-star
// client (peer, peer:left, join, server:disconnected, server:error and the
// direct* events of its WebRTC upgrade), so that everything after discovery
// is the same in both modes: the upgrade is the client's DirectUpgrader.
import { gossipsub } from '@libp2p/gossipsub'
import { pubsubPeerDiscovery } from '@libp2p/pubsub-peer-discovery'
import { multiaddr } from '@multiformats/multiaddr'
import { DirectUpgrader } from '@ws-star/libp2p-client'
import { TypedEventEmitter } from 'main-event'

/** pubsub-peer-discovery's default topic, which the node serves by default. */
export const DISCOVERY_TOPIC = '_peer-discovery._p2p._pubsub'
/** How often the page announces itself (pubsub-peer-discovery's default). */
export const ANNOUNCE_INTERVAL_MS = 10_000
// A peer no longer announced for this long, to which no connection is open,
// is dropped: pubsub-peer-discovery has no leave. The node announces each
// member of a small topic every announce_interval (10 s by default).
const PEER_TTL_MS = 60_000
const SWEEP_MS = 5_000
const DIAL_TIMEOUT_MS = 10_000
// How long the node may take to show its subscription to the topic before
// the page says it does not serve that topic.
const SUBSCRIBE_PATIENCE_MS = 10_000
const RETRY_MIN_MS = 500
const RETRY_MAX_MS = 30_000

/**
 * The createLibp2p options of pubsub mode: pubsub-peer-discovery in
 * peerDiscovery and gossipsub as the `pubsub` service, as their READMEs
 * configure them, and the page's `pubsubPeers` service following them.
 * @param {{ node: string, topic: string, webRTC: false | object }} init the
 * node's multiaddr, the discovery topic, the DirectUpgrader options (false:
 * no WebRTC upgrade)
 */
export function pubsubDiscovery ({ node, topic, webRTC }) {
  let announcements
  return {
    peerDiscovery: [
      // Created as libp2p creates it; the page keeps a handle to follow it.
      (components) => (announcements = pubsubPeerDiscovery({ interval: ANNOUNCE_INTERVAL_MS, topics: [topic] })(components))
    ],
    services: {
      pubsub: gossipsub(),
      pubsubPeers: (components) => new PubsubPeers(components, { node, topic, webRTC, announcements: () => announcements })
    }
  }
}

export class PubsubPeers extends TypedEventEmitter {
  constructor (components, opts) {
    super()
    this.components = components
    this.opts = opts
    this.log = components.logger.forComponent('demo:pubsub-peers')
    this.server = multiaddr(opts.node)
    this.serverId = this.server.getComponents().findLast((c) => c.name === 'p2p')?.value
    if (this.serverId === undefined) throw new Error(`the node address ${opts.node} must end in /p2p/<node id>`)
    /** @type {Map<string, { id: any, addrs: any[], key: string, seen: number }>} listed peers */
    this.peers = new Map()
    this.direct = opts.webRTC === false ? undefined : new DirectUpgrader(this, opts.webRTC)
    this.onAnnouncement = this.onAnnouncement.bind(this)
  }

  start () {}

  async afterStart () {
    await this.direct?.start()
    this.opts.announcements().addEventListener('peer', this.onAnnouncement)
    this.controller = new AbortController()
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS)
    this.done = this.loop(this.controller.signal).catch((err) => this.log.error('node loop failed - %e', err))
  }

  async stop () {
    this.controller?.abort(new Error('stopped'))
    clearInterval(this.sweeper)
    this.opts.announcements()?.removeEventListener('peer', this.onAnnouncement)
    this.direct?.stop()
    await this.done
    this.peers.clear()
  }

  /** The addresses of a listed peer: those of its latest announcement. */
  mergedAddrsOf (key) {
    return this.peers.get(key)?.addrs ?? []
  }

  onAnnouncement (evt) {
    const { id, multiaddrs } = evt.detail
    const key = id.toString()
    const addrKey = multiaddrs.map(String).sort().join(' ')
    const entry = this.peers.get(key)
    if (entry !== undefined && entry.key === addrKey) {
      entry.seen = Date.now()
      return
    }
    this.peers.set(key, { id, addrs: multiaddrs, key: addrKey, seen: Date.now() })
    this.safeDispatchEvent('peer', { detail: { id, multiaddrs } })
    this.direct?.peerSeen(id, multiaddrs)
  }

  /** Drops the peers no longer announced and not connected. */
  sweep () {
    const now = Date.now()
    for (const [key, entry] of this.peers) {
      if (now - entry.seen < PEER_TTL_MS) continue
      if (this.components.connectionManager.getConnections(entry.id).some((c) => c.status === 'open')) continue
      this.drop(key, 'expired')
    }
  }

  drop (key, reason) {
    const entry = this.peers.get(key)
    if (entry === undefined) return
    this.peers.delete(key)
    this.direct?.peerGone(key)
    this.safeDispatchEvent('peer:left', { detail: { id: entry.id, reason } })
  }

  /** Connect, reserve, wait for the node's subscription; again when the connection to the node closes. */
  async loop (signal) {
    let attempt = 0
    while (!signal.aborted) {
      let joined = false
      try {
        const conn = await this.components.connectionManager.openConnection(this.server, { signal: AbortSignal.any([signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)]) })
        const closed = this.closedSignal(signal)
        await this.reserve(AbortSignal.any([closed, AbortSignal.timeout(DIAL_TIMEOUT_MS)]))
        if (closed.aborted) throw new Error(`the connection to ${this.server} closed`)
        joined = await this.nodeSubscribed(closed)
        if (joined) this.safeDispatchEvent('join', { detail: { server: this.server, namespace: this.opts.topic, connection: conn } })
        await aborted(closed)
      } catch (err) {
        if (signal.aborted) break
        this.log('session with %a ended - %e', this.server, err)
        this.safeDispatchEvent('server:error', { detail: { server: this.server, error: err } })
      }
      // The node no longer tells this page who is there.
      for (const key of [...this.peers.keys()]) this.drop(key, 'unreachable')
      if (signal.aborted) break
      if (joined) attempt = 0
      const ceiling = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(attempt++, 30))
      const delay = Math.round(ceiling / 2 + Math.random() * ceiling / 2)
      this.safeDispatchEvent('server:disconnected', { detail: { server: this.server, retryIn: delay } })
      await aborted(AbortSignal.any([signal, AbortSignal.timeout(delay)]))
    }
  }

  /** A signal that aborts when no connection to the node is open any more (or on stop). */
  closedSignal (stop) {
    const controller = new AbortController()
    const events = this.components.events
    const check = () => {
      if (this.components.connectionManager.getConnections().some((c) => c.status === 'open' && c.remotePeer.toString() === this.serverId)) return
      controller.abort(new Error(`the connection to ${this.server} closed`))
    }
    const done = () => {
      events.removeEventListener('connection:close', check)
      stop.removeEventListener('abort', onStop)
    }
    const onStop = () => controller.abort(stop.reason)
    events.addEventListener('connection:close', check)
    stop.addEventListener('abort', onStop, { once: true })
    controller.signal.addEventListener('abort', done, { once: true })
    check()
    return controller.signal
  }

  /** A relay reservation on the node: other pages reach this one at <node>/p2p-circuit/p2p/<id>. */
  async reserve (signal) {
    const marker = `/p2p/${this.serverId}/p2p-circuit`
    if (this.components.addressManager.getAddresses().some((ma) => ma.toString().includes(marker))) return
    await raceSignal(this.components.transportManager.listen([this.server.encapsulate('/p2p-circuit')]), signal)
  }

  /**
   * Resolves true once the node is subscribed to the topic (it serves it),
   * false when the connection closed first. Past SUBSCRIBE_PATIENCE_MS it
   * reports that the node does not seem to serve the topic, and waits on.
   */
  async nodeSubscribed (closed) {
    const pubsub = this.components.pubsub
    const subscribed = () => pubsub.getSubscribers(this.opts.topic).some((p) => p.toString() === this.serverId)
    if (subscribed()) return true
    if (closed.aborted) return false
    return new Promise((resolve) => {
      const finish = (result) => {
        clearTimeout(timer)
        pubsub.removeEventListener('subscription-change', onChange)
        closed.removeEventListener('abort', onClosed)
        resolve(result)
      }
      const onChange = () => { if (subscribed()) finish(true) }
      const onClosed = () => finish(false)
      const timer = setTimeout(() => {
        this.safeDispatchEvent('server:error', {
          detail: { server: this.server, namespace: this.opts.topic, error: new Error(`The node is not subscribed to the topic ${this.opts.topic}: it does not serve it (pubsub.discovery_topics), or has pubsub off`) }
        })
      }, SUBSCRIBE_PATIENCE_MS)
      pubsub.addEventListener('subscription-change', onChange)
      closed.addEventListener('abort', onClosed, { once: true })
    })
  }
}

function aborted (signal) {
  return new Promise((resolve) => {
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', () => resolve(), { once: true })
  })
}

function raceSignal (promise, signal) {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    if (signal.aborted) { onAbort(); return }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
