// Direct WebRTC connections to discovered peers. Two browsers that each hold
// a relay reservation on the node and listen on /webrtc advertise
// <node>/p2p-circuit/webrtc; dialing that address sends the WebRTC offer and
// answer over the relayed connection (/webrtc-signaling/0.0.1, allowed on
// limited connections) and then moves the data to a direct peer connection.
// js-libp2p prefers a direct connection over a relayed one for new streams,
// so once the upgrade succeeds dialProtocol(peerId) uses it; when it fails,
// the relayed connection stays the way to the peer.
import { multiaddr } from '@multiformats/multiaddr'

const WEBRTC_LISTEN = '/webrtc'
const SIGNALING_PROTOCOL = '/webrtc-signaling/0.0.1'
// Closed direct connections to a listed peer are replaced after this long.
const REDIAL_DELAY_MS = 1_000

/** The defaults of the `webRTC` options (WebRTCUpgradeInit). */
export const WEBRTC_DEFAULTS = Object.freeze({
  listen: true,
  closeRelayed: true,
  timeout: 10_000,
  responderDelay: 3_000
})

/** True for a WebRTC address signalled through a relay: ...​/p2p-circuit/webrtc[/p2p/<id>]. */
export function isWebRTCCircuit (ma) {
  const names = ma.getComponents().map((c) => c.name)
  const i = names.lastIndexOf('webrtc')
  return i > 0 && names[i - 1] === 'p2p-circuit' && names.slice(i + 1).every((n) => n === 'p2p')
}

/** A connection whose data does not pass through a relay (WebRTC, or any non-circuit transport). */
export function isDirectConnection (conn) {
  if (conn.direct === true) return true
  const names = conn.remoteAddr.getComponents().map((c) => c.name)
  return names.at(-1) !== 'p2p-circuit' && names.at(-2) !== 'p2p-circuit'
}

/**
 * Upgrades discovered peers to direct WebRTC connections for a discovery
 * service: a WsStarDiscovery, or any other that provides what it reads
 * (DirectUpgradeSource in index.d.ts): `components`, `log`, `peers` (the
 * listed peers by id string, each `{ id }`), `mergedAddrsOf(idStr)` and
 * `safeDispatchEvent` (for `direct`, `direct:error`, `direct:closed`). The
 * service calls `start()`, `stop()`, `peerSeen(id, addrs)` for each new or
 * changed peer and `peerGone(idStr)` when it is no longer listed.
 * One side dials: the peer whose id sorts first, or a peer that does not
 * listen on /webrtc itself. The other side dials only when no connection has
 * arrived within `responderDelay` ms (the first side may not run this code).
 */
export class DirectUpgrader {
  constructor (service, opts = {}) {
    this.service = service
    this.opts = { ...WEBRTC_DEFAULTS, ...opts }
    this.components = service.components
    this.log = service.log.newScope?.('webrtc') ?? service.log
    /** @type {Map<string, { controller: AbortController }>} attempts in flight */
    this.attempts = new Map()
    /** @type {Map<string, string>} peer -> address key of the last failed attempt */
    this.failed = new Map()
    /** @type {Map<string, any>} peer -> pending timer */
    this.timers = new Map()
    this.onOpen = this.onOpen.bind(this)
    this.onClose = this.onClose.bind(this)
  }

  async start () {
    this.components.events.addEventListener('connection:open', this.onOpen)
    this.components.events.addEventListener('connection:close', this.onClose)
    if (this.opts.listen && !this.listening()) {
      // The WebRTC transport derives <relay>/p2p-circuit/webrtc from each
      // relay reservation, so listening before the reservations is fine.
      await this.components.transportManager.listen([multiaddr(WEBRTC_LISTEN)])
    }
  }

  stop () {
    this.components.events.removeEventListener('connection:open', this.onOpen)
    this.components.events.removeEventListener('connection:close', this.onClose)
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
    for (const a of this.attempts.values()) a.controller.abort(new Error('ws-star discovery stopped'))
    this.attempts.clear()
    this.failed.clear()
  }

  listening () {
    return this.components.addressManager.getListenAddrs().some((ma) => ma.toString() === WEBRTC_LISTEN) ||
      this.components.transportManager.getListeners().some((l) => l.getAddrs().some(isWebRTCCircuit))
  }

  /** True when this node advertises a WebRTC circuit address (it can be dialed over WebRTC). */
  offersWebRTC () {
    return this.components.addressManager.getAddresses().some(isWebRTCCircuit)
  }

  directConnection (id) {
    return this.components.connectionManager.getConnections(id)
      .find((c) => c.status === 'open' && isDirectConnection(c))
  }

  /** A peer was reported (new or with new addresses). */
  peerSeen (id, addrs) {
    const key = id.toString()
    const targets = addrs.filter(isWebRTCCircuit)
    if (targets.length === 0 || this.attempts.has(key) || this.directConnection(id) != null) return
    const addrKey = targets.map(String).sort().join(' ')
    // One attempt per set of addresses: a failure is retried when they change.
    if (this.failed.get(key) === addrKey) return
    clearTimeout(this.timers.get(key))
    this.timers.delete(key)
    const first = !this.offersWebRTC() || this.components.peerId.toString() < key
    if (first) {
      this.dial(id, targets, addrKey)
      return
    }
    this.armResponder(id, targets, addrKey)
  }

  armResponder (id, targets, addrKey, patience = Date.now() + this.opts.timeout) {
    const key = id.toString()
    this.timers.set(key, setTimeout(() => {
      this.timers.delete(key)
      if (!this.service.peers.has(key) || this.directConnection(id) != null || this.attempts.has(key)) return
      // The other side's offer is still being answered (a slow machine):
      // dialing now would only race it. Not for longer than a dial may take:
      // @libp2p/webrtc 6 leaves the signalling stream open when it cannot
      // create the peer connection at all.
      if (this.signalling(id) && Date.now() < patience) {
        this.armResponder(id, targets, addrKey, patience)
        return
      }
      this.dial(id, targets, addrKey)
    }, this.opts.responderDelay))
  }

  /** True while a WebRTC signalling stream with the peer is open. */
  signalling (id) {
    return this.components.connectionManager.getConnections(id)
      .some((c) => c.streams.some((s) => s.protocol === SIGNALING_PROTOCOL && s.status === 'open'))
  }

  peerGone (key) {
    clearTimeout(this.timers.get(key))
    this.timers.delete(key)
    this.attempts.get(key)?.controller.abort(new Error('peer left'))
    this.failed.delete(key)
  }

  dial (id, targets, addrKey) {
    const key = id.toString()
    const controller = new AbortController()
    this.attempts.set(key, { controller })
    const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(this.opts.timeout)])
    const addrs = targets.map((ma) => ma.getComponents().at(-1)?.name === 'p2p' ? ma : ma.encapsulate(`/p2p/${key}`))
    this.log('dialing %p over WebRTC', id)
    this.components.connectionManager.openConnection(addrs, { signal })
      .then((conn) => {
        if (!isDirectConnection(conn)) throw new Error(`dial returned a relayed connection (${conn.remoteAddr})`)
        this.failed.delete(key)
      })
      .catch((error) => {
        if (controller.signal.aborted) return
        this.failed.set(key, addrKey)
        this.log('no WebRTC connection to %p, staying on the relay - %e', id, error)
        this.service.safeDispatchEvent('direct:error', { detail: { id, error } })
      })
      .finally(() => {
        if (this.attempts.get(key)?.controller === controller) this.attempts.delete(key)
      })
  }

  onOpen (evt) {
    const conn = evt.detail
    const key = conn.remotePeer.toString()
    if (!this.service.peers.has(key) || !isDirectConnection(conn)) return
    clearTimeout(this.timers.get(key))
    this.timers.delete(key)
    if (this.opts.closeRelayed) this.closeRelayed(conn.remotePeer)
    this.service.safeDispatchEvent('direct', { detail: { id: conn.remotePeer, connection: conn } })
  }

  /**
   * The relayed connection is idle once a direct one exists (js-libp2p opens
   * new streams on the direct one), but it still holds one of the node's
   * circuits for each side (relay.max_circuits per peer) and carries
   * js-libp2p's pings. Closing it leaves the relay to the signalling; a new
   * one is opened if the direct connection goes away.
   */
  closeRelayed (id) {
    for (const c of this.components.connectionManager.getConnections(id)) {
      if (c.status !== 'open' || isDirectConnection(c)) continue
      this.log('closing the relayed connection to %p: a direct one is open', id)
      c.close({ signal: AbortSignal.timeout(5_000) }).catch((err) => c.abort(err))
    }
  }

  onClose (evt) {
    const conn = evt.detail
    const key = conn.remotePeer.toString()
    const entry = this.service.peers.get(key)
    if (entry === undefined || !isDirectConnection(conn) || this.directConnection(conn.remotePeer) != null) return
    this.service.safeDispatchEvent('direct:closed', { detail: { id: conn.remotePeer } })
    // Still listed: the peer is there, only the direct path went away.
    clearTimeout(this.timers.get(key))
    this.timers.set(key, setTimeout(() => {
      this.timers.delete(key)
      const now = this.service.peers.get(key)
      if (now !== undefined) this.peerSeen(now.id, this.service.mergedAddrsOf(key))
    }, REDIAL_DELAY_MS))
  }
}
