// wsStar(): a js-libp2p peer-discovery service speaking /ws-star/1.0.0 to one
// or more rendezvous nodes. Per node it keeps one connection and one stream,
// holds a relay reservation there before announcing, and reconnects with
// jittered backoff. Peers seen through several nodes or namespaces are
// reported once.
import { peerDiscoverySymbol, serviceCapabilities, serviceDependencies } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { anySignal, backoffDelay, sleep } from './backoff.js'
import { DirectUpgrader, WEBRTC_DEFAULTS } from './direct.js'
import { InvalidParametersError, MalformedMessageError, ServerStatusError } from './errors.js'
import { encodeFrame, readFrames, sendFrame } from './framing.js'
import { multiaddrsFromBytes, peerIdFromBytes, verifyPeerRecord } from './records.js'
import { utf8Length } from './protobuf.js'
import {
  CloseReason, decodeServerMessage, encodeJoin, encodeLeave, Kind, LeftReason,
  MAX_NAMESPACE_BYTES, MAX_SERVER_MESSAGE, WS_STAR_PROTOCOL
} from './wsstar-codec.js'

const LEFT_REASONS = {
  [LeftReason.LEFT]: 'left',
  [LeftReason.DISCONNECTED]: 'disconnected',
  [LeftReason.EXPIRED]: 'expired'
}
// Statuses worth asking again for later: the node is busy, not refusing.
const RETRY_STATUSES = new Set([300, 400])
// Messages waiting for record verification before the stream is paused.
const MAX_QUEUED_MESSAGES = 64

const defaults = {
  announce: true,
  maxPeers: 0,
  verifyRecords: true,
  dialTimeout: 10_000,
  initialDelay: 500,
  maxDelay: 30_000
}

/**
 * @param {import('./index.js').WsStarInit} init
 * @returns {(components: any) => WsStarDiscovery}
 */
export function wsStar (init) {
  const opts = validate(init)
  return (components) => new WsStarDiscovery(components, opts)
}

export class WsStarDiscovery extends TypedEventEmitter {
  // Semicolons: the next line starts with [ and would index this value.
  [peerDiscoverySymbol] = this;
  [Symbol.toStringTag] = '@ws-star/discovery';
  [serviceCapabilities] = ['@libp2p/peer-discovery'];

  get [serviceDependencies] () {
    // Announcing is only useful to peers that can dial back through the relay.
    return this.opts.announce && this.opts.reserve ? ['@libp2p/circuit-relay-v2-transport'] : []
  }

  constructor (components, opts) {
    super()
    this.components = components
    this.opts = validate(opts)
    this.log = components.logger.forComponent('ws-star:discovery')
    /** @type {Map<string, { id: any, sources: Map<string, { addrs: any[], verified: boolean }>, key: string }>} */
    this.peers = new Map()
    /** @type {ServerSession[]} */
    this.sessions = []
    this.running = false
    /** serialises relay reservations across sessions */
    this.reserveLock = Promise.resolve()
    /** @type {DirectUpgrader | undefined} */
    this.direct = this.opts.webRTC != null ? new DirectUpgrader(this, this.opts.webRTC) : undefined
  }

  start () {
    this.running = true
    this.sessions = this.opts.servers.map((addr, i) => new ServerSession(this, addr, i))
  }

  async afterStart () {
    // After start so that the transports are ready to dial and listen.
    if (this.direct !== undefined) {
      try {
        await this.direct.start()
      } catch (err) {
        throw new InvalidParametersError(`wsStar(): webRTC needs the webRTC() transport of @libp2p/webrtc in transports: listening on /webrtc failed: ${err.message}`)
      }
    }
    for (const s of this.sessions) s.start()
  }

  async stop () {
    this.running = false
    this.direct?.stop()
    await Promise.all(this.sessions.map((s) => s.stop()))
    this.sessions = []
    this.peers.clear()
  }

  /**
   * The peers currently seen, deduplicated across nodes and namespaces.
   * @param {string} [namespace] only those seen in this namespace
   */
  getPeers (namespace) {
    const out = []
    for (const entry of this.peers.values()) {
      if (namespace !== undefined && ![...entry.sources.keys()].some((k) => k.endsWith('\n' + namespace))) continue
      out.push({
        id: entry.id,
        multiaddrs: mergedAddrs(entry),
        verified: [...entry.sources.values()].some((s) => s.verified),
        direct: this.direct?.directConnection(entry.id) != null
      })
    }
    return out
  }

  /** Status of each node: { server, connected, namespaces }. */
  getServers () {
    return this.sessions.map((s) => ({
      server: s.addr,
      connected: s.stream != null,
      namespaces: [...s.views.keys()]
    }))
  }

  // --- membership bookkeeping shared by all sessions -------------------------

  setSource (id, key, addrs, verified) {
    const idStr = id.toString()
    if (idStr === this.components.peerId.toString()) return
    let entry = this.peers.get(idStr)
    const fresh = entry === undefined
    if (fresh) {
      entry = { id, sources: new Map(), key: '' }
      this.peers.set(idStr, entry)
    }
    entry.sources.set(key, { addrs, verified })
    const merged = mergedAddrs(entry)
    const mergedKey = merged.map(String).sort().join(' ')
    if (!fresh && mergedKey === entry.key) return
    entry.key = mergedKey
    this.safeDispatchEvent('peer', { detail: { id, multiaddrs: merged } })
    this.direct?.peerSeen(id, merged)
  }

  /** The merged addresses of a listed peer (empty when it is not listed). */
  mergedAddrsOf (idStr) {
    const entry = this.peers.get(idStr)
    return entry === undefined ? [] : mergedAddrs(entry)
  }

  removeSource (idStr, key, reason) {
    const entry = this.peers.get(idStr)
    if (entry === undefined || !entry.sources.delete(key)) return
    if (entry.sources.size > 0) {
      entry.key = mergedAddrs(entry).map(String).sort().join(' ')
      return
    }
    this.peers.delete(idStr)
    this.direct?.peerGone(idStr)
    this.safeDispatchEvent('peer:left', { detail: { id: entry.id, reason } })
  }
}

function mergedAddrs (entry) {
  const seen = new Map()
  for (const { addrs } of entry.sources.values()) {
    for (const ma of addrs) seen.set(ma.toString(), ma)
  }
  return [...seen.values()]
}

/**
 * One node: connect, reserve, join, follow; reconnect until stopped.
 * Exported for the unit tests of its view bookkeeping only.
 */
export class ServerSession {
  constructor (service, addr, index) {
    this.service = service
    this.addr = addr
    this.index = index
    this.serverId = peerIdFromString(addr.getComponents().findLast((c) => c.name === 'p2p').value)
    this.log = service.log.newScope?.(`server-${index}`) ?? service.log
    this.controller = new AbortController()
    /** @type {Map<string, { peers: Map<string, any>, snapshot: boolean, stale?: Set<string> }>} */
    this.views = new Map()
    /** namespaces in the order their acks are due */
    this.pendingAcks = []
    this.stream = undefined
    this.reservedOn = undefined
    this.queue = Promise.resolve()
    this.queued = 0
    this.retryTimers = new Set()
    /** @type {Map<string, Set<string>>} peers of views the node closed, until the rejoin's snapshot */
    this.stale = new Map()
    /** @type {Map<string, number>} rejoin attempts per namespace */
    this.retries = new Map()
    this.done = undefined
    this.joinedOnce = false
  }

  get opts () { return this.service.opts }

  start () {
    this.done = this.loop().catch((err) => this.log.error('session loop failed - %e', err))
  }

  async stop () {
    this.controller.abort(new Error('ws-star discovery stopped'))
    for (const t of this.retryTimers) clearTimeout(t)
    this.retryTimers.clear()
    await this.done
  }

  async loop () {
    const signal = this.controller.signal
    let attempt = 0
    while (!signal.aborted) {
      this.joinedOnce = false
      try {
        await this.session(signal)
      } catch (err) {
        if (signal.aborted) break
        this.log('session with %a ended - %e', this.addr, err)
        this.service.safeDispatchEvent('server:error', { detail: { server: this.addr, error: err } })
      }
      this.dropAll('unreachable')
      if (signal.aborted) break
      // A session that got as far as a join was healthy: start over quickly.
      if (this.joinedOnce) attempt = 0
      const delay = backoffDelay(attempt++, this.opts)
      this.log('reconnecting to %a in %d ms', this.addr, delay)
      this.service.safeDispatchEvent('server:disconnected', { detail: { server: this.addr, retryIn: delay } })
      try {
        await sleep(delay, signal)
      } catch {
        break
      }
    }
  }

  /** Runs one connection's worth of protocol; sets joinedOnce when a join succeeds. */
  async session (stopSignal) {
    const setup = anySignal([stopSignal], this.opts.dialTimeout)
    const cm = this.service.components.connectionManager
    const conn = await cm.openConnection(this.addr, { signal: setup })
    if (this.opts.announce && this.opts.reserve) await this.ensureReservation(conn, setup)
    const stream = await conn.newStream(WS_STAR_PROTOCOL, { signal: setup })
    this.stream = stream
    this.pendingAcks = []

    const ended = new Promise((resolve) => {
      readFrames(stream, MAX_SERVER_MESSAGE, (frame) => this.enqueue(frame), resolve)
    })
    const onStop = () => { this.leaveAll(stream) }
    stopSignal.addEventListener('abort', onStop, { once: true })
    if (stopSignal.aborted) onStop()
    try {
      for (const ns of this.opts.namespaces) this.join(ns)
      const err = await ended
      // Let queued messages (a final LEFT batch, say) apply before dropping the view.
      await this.queue
      if (err != null && !stopSignal.aborted) throw err
    } finally {
      stopSignal.removeEventListener('abort', onStop)
      this.stream = undefined
      if (stream.status === 'open') stream.abort(new Error('ws-star session ended'))
    }
  }

  async ensureReservation (conn, signal) {
    const marker = `/p2p/${this.serverId}/p2p-circuit`
    const held = () => this.service.components.addressManager.getAddresses().some((ma) => ma.toString().includes(marker))
    // A reservation belongs to a connection: after a reconnect it has to be made again.
    if (this.reservedOn === conn.id && held()) return
    const circuit = this.addr.encapsulate('/p2p-circuit')
    // One reservation at a time per libp2p node: @libp2p/circuit-relay-v2
    // 4.2 stalls a second concurrent reservation on another relay forever.
    // The lock is released when this attempt gives up, stalled or not.
    const run = this.service.reserveLock.then(() => {
      this.log('reserving a relay slot on %a', this.addr)
      return raceSignal(this.service.components.transportManager.listen([circuit]), signal)
    })
    this.service.reserveLock = run.catch(() => {})
    await run
    if (!held()) throw new Error(`no relay reservation on ${this.addr}: the node handed out no circuit address`)
    this.reservedOn = conn.id
  }

  join (ns) {
    const stream = this.stream
    if (stream === undefined || this.views.has(ns) || this.pendingAcks.includes(ns)) return
    this.pendingAcks.push(ns)
    this.log.trace('joining %s', ns)
    sendFrame(stream, encodeJoin({ ns, announce: this.opts.announce, maxPeers: this.opts.maxPeers }), this.controller.signal)
      .catch((err) => stream.abort(err))
  }

  leaveAll (stream) {
    // A clean close counts as a leave for every namespace on the stream; the
    // explicit Leave messages make the intent visible in node logs too.
    for (const ns of this.views.keys()) {
      try { stream.send(encodeFrame(encodeLeave(ns))) } catch {}
    }
    stream.close({ signal: AbortSignal.timeout(2_000) })
      .catch((err) => stream.abort(err))
  }

  enqueue (frame) {
    let msg
    try {
      msg = decodeServerMessage(frame)
    } catch (err) {
      throw err instanceof MalformedMessageError ? err : new MalformedMessageError(err.message)
    }
    const stream = this.stream
    this.queued++
    if (this.queued === MAX_QUEUED_MESSAGES) stream?.pause()
    this.queue = this.queue
      .then(() => this.handle(msg))
      .catch((err) => {
        this.log('protocol error from %a - %e', this.addr, err)
        stream?.abort(err)
      })
      .finally(() => {
        this.queued--
        if (this.queued === MAX_QUEUED_MESSAGES / 4 && stream?.readStatus === 'paused') stream.resume()
      })
  }

  async handle (msg) {
    switch (msg.type) {
      case 'ack': return this.onAck(msg)
      case 'peers': return this.onPeers(msg)
      case 'closed': return this.onClosed(msg)
      default: // unknown message kinds are ignored, as the protocol asks
    }
  }

  onAck (ack) {
    const expected = this.pendingAcks.shift()
    if (expected !== ack.ns) throw new MalformedMessageError(`ack for "${ack.ns}" when "${expected}" was due`)
    if (ack.status !== 0) {
      const error = new ServerStatusError(ack.status, ack.statusText, `join "${ack.ns}" on ${this.addr}`)
      this.log('%s', error.message)
      this.service.safeDispatchEvent('server:error', { detail: { server: this.addr, namespace: ack.ns, error } })
      if (RETRY_STATUSES.has(ack.status)) this.retryJoin(ack.ns)
      return
    }
    this.views.set(ack.ns, { peers: new Map(), snapshot: false, stale: this.stale.get(ack.ns) })
    this.stale.delete(ack.ns)
    this.retries.delete(ack.ns)
    this.joinedOnce = true
    this.service.safeDispatchEvent('join', {
      detail: { server: this.addr, namespace: ack.ns, members: ack.members, maxPeers: ack.maxPeers }
    })
  }

  async onPeers (msg) {
    const view = this.views.get(msg.ns)
    // Batches for a namespace left (or not yet acked) are ignored.
    if (view === undefined) return
    const key = `${this.index}\n${msg.ns}`
    if (msg.snapshot) {
      view.snapshot = true
    } else if (!view.snapshot) {
      throw new MalformedMessageError(`change batch for "${msg.ns}" before its snapshot`)
    }
    const present = new Set()
    for (const ev of msg.events) {
      const id = peerIdFromBytes(ev.peerId)
      const idStr = id.toString()
      if (ev.kind === Kind.LEFT) {
        view.peers.delete(idStr)
        this.service.removeSource(idStr, key, LEFT_REASONS[ev.reason] ?? 'unspecified')
        continue
      }
      if (ev.kind !== Kind.JOINED && ev.kind !== Kind.UPDATED) continue
      const addrs = await this.addrsOf(id, ev)
      if (addrs === undefined) continue
      present.add(idStr)
      view.peers.set(idStr, ev.signedPeerRecord)
      this.service.setSource(id, key, addrs, ev.signedPeerRecord !== undefined && this.opts.verifyRecords)
    }
    if (msg.snapshot && view.stale !== undefined) {
      // After a rejoin the snapshot replaces what the ended view showed.
      for (const idStr of view.stale) {
        if (!present.has(idStr)) this.service.removeSource(idStr, key, 'unreachable')
      }
      view.stale = undefined
    }
  }

  /** The addresses to report for a JOINED/UPDATED event, or undefined to drop it. */
  async addrsOf (id, ev) {
    const listed = multiaddrsFromBytes(ev.addrs, id)
    if (ev.signedPeerRecord === undefined || !this.opts.verifyRecords) return listed
    try {
      const record = await verifyPeerRecord(ev.signedPeerRecord, id)
      const all = new Map(listed.map((ma) => [ma.toString(), ma]))
      for (const ma of record.multiaddrs) all.set(ma.toString(), ma)
      return [...all.values()]
    } catch (error) {
      // A node relaying a forged record is not trusted for that peer at all.
      this.log('dropping %p from %a - %e', id, this.addr, error)
      this.service.safeDispatchEvent('server:error', { detail: { server: this.addr, peer: id, error } })
      return undefined
    }
  }

  onClosed (msg) {
    const view = this.views.get(msg.ns)
    if (view === undefined) return
    this.log('node closed namespace %s (reason %d %s)', msg.ns, msg.reason, msg.text)
    // On shutdown the stream ends next and the loop reconnects; dropAll then
    // still finds this view.
    if (msg.reason === CloseReason.SHUTDOWN) return
    this.views.delete(msg.ns)
    // Keep showing the peers until the snapshot of the rejoin says otherwise.
    this.stale.set(msg.ns, new Set([...(view.stale ?? []), ...view.peers.keys()]))
    this.retryJoin(msg.ns)
  }

  retryJoin (ns) {
    const attempt = this.retries.get(ns) ?? 0
    this.retries.set(ns, attempt + 1)
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer)
      if (!this.controller.signal.aborted) this.join(ns)
    }, backoffDelay(attempt, this.opts))
    this.retryTimers.add(timer)
  }

  /** The stream is gone: every peer seen through this node is unreachable through it. */
  dropAll (reason) {
    for (const t of this.retryTimers) clearTimeout(t)
    this.retryTimers.clear()
    const drop = (ns, ids) => {
      const key = `${this.index}\n${ns}`
      for (const idStr of ids) this.service.removeSource(idStr, key, reason)
    }
    for (const [ns, view] of this.views) {
      drop(ns, view.peers.keys())
      drop(ns, view.stale ?? [])
    }
    for (const [ns, ids] of this.stale) drop(ns, ids)
    this.views.clear()
    this.stale.clear()
    this.retries.clear()
    this.pendingAcks = []
  }
}

function raceSignal (promise, signal) {
  if (signal == null) return promise
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    if (signal.aborted) { onAbort(); return }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

function validate (init) {
  if (init == null || typeof init !== 'object') throw new InvalidParametersError('wsStar() needs an options object')
  const opts = { ...defaults, ...init }
  const servers = (Array.isArray(init.servers) ? init.servers : [init.servers]).filter((s) => s != null)
  if (servers.length === 0) throw new InvalidParametersError('wsStar(): servers must list at least one node multiaddr')
  opts.servers = servers.map((s) => {
    let ma
    try {
      ma = multiaddr(s.toString())
    } catch (err) {
      throw new InvalidParametersError(`wsStar(): "${s}" is not a multiaddr: ${err.message}`)
    }
    const p2p = ma.getComponents().findLast((c) => c.name === 'p2p')
    if (p2p === undefined) throw new InvalidParametersError(`wsStar(): "${s}" must end in /p2p/<node peer id>`)
    if (ma.toString().includes('/p2p-circuit')) throw new InvalidParametersError(`wsStar(): "${s}" must be a direct address, not a circuit`)
    return ma
  })
  const namespaces = Array.isArray(init.namespaces) ? init.namespaces : [init.namespaces]
  if (namespaces.length === 0 || namespaces.some((ns) => typeof ns !== 'string')) {
    throw new InvalidParametersError('wsStar(): namespaces must be a non-empty list of strings')
  }
  for (const ns of namespaces) {
    const n = utf8Length(ns)
    if (n === 0 || n > MAX_NAMESPACE_BYTES) {
      throw new InvalidParametersError(`wsStar(): namespace "${ns.slice(0, 40)}" must be 1 to ${MAX_NAMESPACE_BYTES} UTF-8 bytes`)
    }
  }
  opts.namespaces = [...new Set(namespaces)]
  if (!Number.isInteger(opts.maxPeers) || opts.maxPeers < 0 || opts.maxPeers > 0xffffffff) {
    throw new InvalidParametersError('wsStar(): maxPeers must be a non-negative integer (0 = node default)')
  }
  for (const k of ['dialTimeout', 'initialDelay', 'maxDelay']) {
    if (!(opts[k] > 0) || !Number.isFinite(opts[k])) throw new InvalidParametersError(`wsStar(): ${k} must be a positive number of milliseconds`)
  }
  if (opts.maxDelay < opts.initialDelay) throw new InvalidParametersError('wsStar(): maxDelay must not be below initialDelay')
  opts.announce = opts.announce !== false
  opts.reserve = opts.reserve ?? opts.announce
  opts.webRTC = validateWebRTC(init.webRTC)
  return opts
}

function validateWebRTC (v) {
  if (v == null || v === false) return undefined
  if (v === true) return { ...WEBRTC_DEFAULTS }
  if (typeof v !== 'object') throw new InvalidParametersError('wsStar(): webRTC must be true, false or an options object')
  const o = { ...WEBRTC_DEFAULTS, ...v }
  for (const k of ['timeout', 'responderDelay']) {
    if (!(o[k] >= 0) || !Number.isFinite(o[k])) throw new InvalidParametersError(`wsStar(): webRTC.${k} must be a non-negative number of milliseconds`)
  }
  o.listen = o.listen !== false
  o.closeRelayed = o.closeRelayed !== false
  return o
}
