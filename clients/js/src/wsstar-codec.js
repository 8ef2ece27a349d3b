// /ws-star/1.0.0 messages (docs/protocol.md). Field numbers are fixed by the
// protocol; unknown fields are skipped so later versions can add some.
import { decodeFields, WIRE_LEN, WIRE_VARINT, Writer } from './protobuf.js'
import { MalformedMessageError } from './errors.js'

export const WS_STAR_PROTOCOL = '/ws-star/1.0.0'
/** Largest client message the node accepts. */
export const MAX_CLIENT_MESSAGE = 4 * 1024
/** Largest message a node may send. */
export const MAX_SERVER_MESSAGE = 1024 * 1024
/** The node rejects longer namespaces (in UTF-8 bytes). */
export const MAX_NAMESPACE_BYTES = 255

export const Kind = Object.freeze({ UNSPECIFIED: 0, JOINED: 1, UPDATED: 2, LEFT: 3 })
export const LeftReason = Object.freeze({ UNSPECIFIED: 0, LEFT: 1, DISCONNECTED: 2, EXPIRED: 3 })
export const CloseReason = Object.freeze({ UNSPECIFIED: 0, OVERFLOW: 1, SHUTDOWN: 2, POLICY: 3 })

/**
 * @param {{ ns: string, announce?: boolean, maxPeers?: number }} join
 * @returns {Uint8Array} ClientMessage{join}
 */
export function encodeJoin ({ ns, announce = false, maxPeers = 0 }) {
  const body = new Writer().stringField(1, ns).uintField(2, announce).uintField(3, maxPeers).finish()
  return new Writer().messageField(1, body).finish()
}

/** @returns {Uint8Array} ClientMessage{leave} */
export function encodeLeave (ns) {
  const body = new Writer().stringField(1, ns).finish()
  return new Writer().messageField(2, body).finish()
}

/**
 * Decodes a ServerMessage into one of
 *   { type: 'ack', ns, status, statusText, maxPeers, members }
 *   { type: 'peers', ns, snapshot, events: [{ kind, peerId, addrs, signedPeerRecord, reason }] }
 *   { type: 'closed', ns, reason, text }
 *   { type: 'unknown' }  (no known oneof member: ignored by clients)
 * Byte fields are views into buf.
 */
export function decodeServerMessage (buf) {
  let msg = { type: 'unknown' }
  decodeFields(buf, {
    1: [WIRE_LEN, (r) => { msg = decodeAck(r.bytes()) }],
    2: [WIRE_LEN, (r) => { msg = decodePeers(r.bytes()) }],
    3: [WIRE_LEN, (r) => { msg = decodeClosed(r.bytes()) }]
  })
  return msg
}

function decodeAck (buf) {
  const m = { type: 'ack', ns: '', status: 0, statusText: '', maxPeers: 0, members: 0 }
  decodeFields(buf, {
    1: [WIRE_LEN, (r) => { m.ns = r.string() }],
    2: [WIRE_VARINT, (r) => { m.status = r.uint32() }],
    3: [WIRE_LEN, (r) => { m.statusText = r.string() }],
    4: [WIRE_VARINT, (r) => { m.maxPeers = r.uint32() }],
    5: [WIRE_VARINT, (r) => { m.members = Number(r.uint64()) }]
  })
  return m
}

function decodePeers (buf) {
  const m = { type: 'peers', ns: '', snapshot: false, events: [] }
  decodeFields(buf, {
    1: [WIRE_LEN, (r) => { m.ns = r.string() }],
    2: [WIRE_VARINT, (r) => { m.snapshot = r.bool() }],
    3: [WIRE_LEN, (r) => { m.events.push(decodePeerEvent(r.bytes())) }]
  })
  return m
}

function decodePeerEvent (buf) {
  const e = { kind: 0, peerId: undefined, addrs: [], signedPeerRecord: undefined, reason: 0 }
  decodeFields(buf, {
    1: [WIRE_VARINT, (r) => { e.kind = r.uint32() }],
    2: [WIRE_LEN, (r) => { e.peerId = r.bytes() }],
    3: [WIRE_LEN, (r) => { e.addrs.push(r.bytes()) }],
    4: [WIRE_LEN, (r) => { e.signedPeerRecord = r.bytes() }],
    5: [WIRE_VARINT, (r) => { e.reason = r.uint32() }]
  })
  if (e.peerId === undefined || e.peerId.length === 0) throw new MalformedMessageError('peer event without a peer id')
  if (e.signedPeerRecord?.length === 0) e.signedPeerRecord = undefined
  return e
}

function decodeClosed (buf) {
  const m = { type: 'closed', ns: '', reason: 0, text: '' }
  decodeFields(buf, {
    1: [WIRE_LEN, (r) => { m.ns = r.string() }],
    2: [WIRE_VARINT, (r) => { m.reason = r.uint32() }],
    3: [WIRE_LEN, (r) => { m.text = r.string() }]
  })
  return m
}
