// rendezvousClient(): a /rendezvous/1.0.0 client service for js-libp2p 3.x.
// One stream per request. Registrations are refreshed before they expire
// until unregister() or stop().
import { serviceCapabilities } from '@libp2p/interface'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { anySignal, backoffDelay } from './backoff.js'
import { InvalidParametersError, InvalidPeerRecordError, MalformedMessageError, NotStartedError, ServerStatusError } from './errors.js'
import { readFrame, sendFrame } from './framing.js'
import { utf8Length } from './protobuf.js'
import {
  DEFAULT_MAX_RESPONSE, decodeMessage, encodeDiscover, encodeRegister, encodeUnregister,
  MessageType, RENDEZVOUS_PROTOCOL
} from './rendezvous-codec.js'
import { verifyPeerRecord } from './records.js'
import { MAX_NAMESPACE_BYTES } from './wsstar-codec.js'

const DEFAULT_TTL = 2 * 60 * 60
const MAX_TTL = 72 * 60 * 60
// setTimeout holds at most 2^31-1 ms.
const MAX_TIMER = 2 ** 31 - 1

/**
 * @param {import('./index.js').RendezvousClientInit} [init]
 */
export function rendezvousClient (init = {}) {
  return (components) => new RendezvousClient(components, init)
}

export class RendezvousClient extends TypedEventEmitter {
  // Semicolon: the next line starts with [ and would index this string.
  [Symbol.toStringTag] = '@ws-star/rendezvous-client';
  [serviceCapabilities] = ['@ws-star/rendezvous-client']

  constructor (components, init = {}) {
    super()
    this.components = components
    this.log = components.logger.forComponent('ws-star:rendezvous')
    this.requestTimeout = init.requestTimeout ?? 10_000
    this.maxResponseSize = init.maxResponseSize ?? DEFAULT_MAX_RESPONSE
    if (!(this.requestTimeout > 0)) throw new InvalidParametersError('rendezvousClient(): requestTimeout must be positive')
    if (!(this.maxResponseSize >= 1024)) throw new InvalidParametersError('rendezvousClient(): maxResponseSize must be at least 1024')
    /** @type {Map<string, { timer?: any, server: any, ns: string, ttl: number, attempt: number }>} */
    this.registrations = new Map()
    this.seq = 0n
    this.running = false
  }

  start () { this.running = true }

  /** Stops refreshing; registrations run out at the node on their own. */
  stop () {
    this.running = false
    for (const r of this.registrations.values()) clearTimeout(r.timer)
    this.registrations.clear()
  }

  /**
   * Registers this peer under namespace at server with its signed peer
   * record. With refresh (the default) it registers again before the granted
   * TTL runs out, until unregister() or stop().
   * @returns {Promise<{ ttl: number }>} the granted TTL in seconds
   */
  async register (server, namespace, { ttl = DEFAULT_TTL, refresh = true, signal } = {}) {
    this.checkStarted()
    checkNamespace(namespace)
    if (!Number.isInteger(ttl) || ttl <= 0 || ttl > MAX_TTL) {
      throw new InvalidParametersError(`ttl must be a whole number of seconds in 1..${MAX_TTL}`)
    }
    const target = toTarget(server)
    const key = registrationKey(target, namespace)
    const granted = await this.registerOnce(target, namespace, ttl, signal)
    if (refresh && this.running) {
      const prev = this.registrations.get(key)
      clearTimeout(prev?.timer)
      const entry = { server: target, ns: namespace, ttl, attempt: 0, timer: undefined }
      this.registrations.set(key, entry)
      this.scheduleRefresh(key, entry, refreshDelay(granted))
    }
    return { ttl: granted }
  }

  /** Removes this peer's registration in namespace at server and stops refreshing it. */
  async unregister (server, namespace, { signal } = {}) {
    this.checkStarted()
    checkNamespace(namespace)
    const target = toTarget(server)
    const key = registrationKey(target, namespace)
    clearTimeout(this.registrations.get(key)?.timer)
    this.registrations.delete(key)
    // UNREGISTER has no response: done once the request is written and closed.
    await this.request(target, encodeUnregister({ ns: namespace }), signal, false)
  }

  /**
   * One page of registrations. Pass the returned cookie to the next call to
   * get only registrations that are new since.
   * @returns {Promise<{ registrations: Array<{ id: any, multiaddrs: any[], namespace: string, ttl: number, signedPeerRecord: Uint8Array }>, cookie?: Uint8Array, invalid: number }>}
   */
  async discover (server, { namespace, limit, cookie, signal } = {}) {
    this.checkStarted()
    if (namespace !== undefined) checkNamespace(namespace)
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) throw new InvalidParametersError('limit must be a non-negative integer')
    const res = await this.request(toTarget(server), encodeDiscover({ ns: namespace, limit, cookie }), signal, true)
    if (res.type !== undefined && res.type !== MessageType.DISCOVER_RESPONSE) throw new MalformedMessageError(`expected DISCOVER_RESPONSE, got type ${res.type}`)
    const d = res.discover ?? { status: 0, statusText: '', registrations: [] }
    if (d.status !== 0) throw new ServerStatusError(d.status, d.statusText, `discover "${namespace ?? '*'}"`)
    const registrations = []
    let invalid = 0
    for (const reg of d.registrations) {
      try {
        registrations.push(await openRegistration(reg))
      } catch (err) {
        invalid++
        this.log('skipping a registration in %s - %e', reg.ns, err)
      }
    }
    return { registrations, cookie: d.cookie, invalid }
  }

  async registerOnce (target, ns, ttl, signal) {
    const record = await this.signedRecord()
    const res = await this.request(target, encodeRegister({ ns, signedPeerRecord: record, ttl }), signal, true)
    if (res.type !== undefined && res.type !== MessageType.REGISTER_RESPONSE) throw new MalformedMessageError(`expected REGISTER_RESPONSE, got type ${res.type}`)
    const r = res.register ?? { status: 0, statusText: '', ttl: 0 }
    if (r.status !== 0) throw new ServerStatusError(r.status, r.statusText, `register "${ns}"`)
    // A server that reports no TTL granted what was asked.
    return r.ttl > 0 ? r.ttl : ttl
  }

  scheduleRefresh (key, entry, delayMs) {
    entry.timer = setTimeout(() => {
      if (this.registrations.get(key) !== entry) return
      this.registerOnce(entry.server, entry.ns, entry.ttl)
        .then((granted) => {
          entry.attempt = 0
          this.log('refreshed %s, ttl %d s', entry.ns, granted)
          if (this.registrations.get(key) === entry) this.scheduleRefresh(key, entry, refreshDelay(granted))
        }, (error) => {
          this.log('refreshing %s failed - %e', entry.ns, error)
          this.safeDispatchEvent('registration:error', { detail: { server: entry.server, namespace: entry.ns, error } })
          if (this.registrations.get(key) === entry) {
            this.scheduleRefresh(key, entry, backoffDelay(entry.attempt++, { initialDelay: 1_000, maxDelay: 60_000 }))
          }
        })
    }, Math.min(delayMs, MAX_TIMER))
  }

  /** A fresh signed peer record of this node's current addresses. */
  async signedRecord () {
    const { peerId, privateKey, addressManager } = this.components
    const multiaddrs = addressManager.getAddresses().map((ma) => {
      const last = ma.getComponents().at(-1)
      return last?.name === 'p2p' && last.value === peerId.toString() ? ma.decapsulateCode(last.code) : ma
    })
    if (multiaddrs.length === 0) {
      throw new InvalidParametersError('this node has no addresses to register: listen on <node>/p2p-circuit first')
    }
    // seq must grow with every record, even two within one millisecond.
    const now = BigInt(Date.now())
    this.seq = now > this.seq ? now : this.seq + 1n
    const envelope = await RecordEnvelope.seal(new PeerRecord({ peerId, multiaddrs, seqNumber: this.seq }), privateKey)
    return envelope.marshal()
  }

  async request (target, msg, signal, expectResponse) {
    const s = anySignal([signal], this.requestTimeout)
    const conn = await this.components.connectionManager.openConnection(target, { signal: s })
    const stream = await conn.newStream(RENDEZVOUS_PROTOCOL, { signal: s })
    try {
      await sendFrame(stream, msg, s)
      if (!expectResponse) {
        await stream.close({ signal: s })
        return undefined
      }
      const [frame] = await Promise.all([
        readFrame(stream, this.maxResponseSize, s),
        stream.close({ signal: s }) // half-close: the request is complete
      ])
      return decodeMessage(frame)
    } catch (err) {
      stream.abort(err)
      throw err
    }
  }

  checkStarted () {
    if (!this.running) throw new NotStartedError('rendezvous client is not started')
  }
}

async function openRegistration (reg) {
  if (reg.signedPeerRecord === undefined) throw new InvalidPeerRecordError('registration without a signed peer record')
  const envelope = await RecordEnvelope.openAndCertify(reg.signedPeerRecord, PeerRecord.DOMAIN)
    .catch((err) => { throw new InvalidPeerRecordError(err.message) })
  const id = peerIdFromPublicKey(envelope.publicKey)
  const record = await verifyPeerRecord(reg.signedPeerRecord, id)
  return { id, multiaddrs: record.multiaddrs, namespace: reg.ns, ttl: reg.ttl, signedPeerRecord: reg.signedPeerRecord }
}

/** Refresh at half the TTL for short ones, one minute early for long ones. */
export function refreshDelay (ttlSeconds) {
  return Math.max(ttlSeconds / 2, ttlSeconds - 60) * 1000
}

function toTarget (server) {
  if (server == null) throw new InvalidParametersError('server is required')
  if (typeof server === 'string') {
    try {
      return multiaddr(server)
    } catch (err) {
      throw new InvalidParametersError(`"${server}" is not a multiaddr: ${err.message}`)
    }
  }
  return server // a Multiaddr or a PeerId
}

function registrationKey (target, ns) {
  const peer = typeof target.getComponents === 'function'
    ? target.getComponents().findLast((c) => c.name === 'p2p')?.value ?? target.toString()
    : target.toString()
  return `${peer}\n${ns}`
}

function checkNamespace (ns) {
  if (typeof ns !== 'string') throw new InvalidParametersError('namespace must be a string')
  const n = utf8Length(ns)
  if (n === 0 || n > MAX_NAMESPACE_BYTES) throw new InvalidParametersError(`namespace must be 1 to ${MAX_NAMESPACE_BYTES} UTF-8 bytes`)
}
