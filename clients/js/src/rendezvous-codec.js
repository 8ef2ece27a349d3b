// /rendezvous/1.0.0 messages (libp2p specs, rendezvous r3). proto2 on the
// wire: this encoder always writes `type` and the fields a server requires,
// and the decoder accepts absent defaults (some servers omit them).
import { decodeFields, WIRE_LEN, WIRE_VARINT, Writer } from './protobuf.js'

export const RENDEZVOUS_PROTOCOL = '/rendezvous/1.0.0'
/** Default cap on a response; a full DISCOVER page of 1000 records fits. */
export const DEFAULT_MAX_RESPONSE = 4 * 1024 * 1024

export const MessageType = Object.freeze({
  REGISTER: 0, REGISTER_RESPONSE: 1, UNREGISTER: 2, DISCOVER: 3, DISCOVER_RESPONSE: 4
})

function message (type, field, body) {
  // `type` is written even when 0 (REGISTER): proto2 servers may require it.
  const w = new Writer().tag(1, WIRE_VARINT).varint(type)
  return w.messageField(field, body).finish()
}

/** @param {{ ns: string, signedPeerRecord: Uint8Array, ttl?: number }} r ttl in seconds */
export function encodeRegister ({ ns, signedPeerRecord, ttl }) {
  const body = new Writer().stringField(1, ns).bytesField(2, signedPeerRecord).uintField(3, ttl).finish()
  return message(MessageType.REGISTER, 2, body)
}

export function encodeUnregister ({ ns }) {
  return message(MessageType.UNREGISTER, 4, new Writer().stringField(1, ns).finish())
}

/** @param {{ ns?: string, limit?: number, cookie?: Uint8Array }} d */
export function encodeDiscover ({ ns, limit, cookie }) {
  const body = new Writer().stringField(1, ns).uintField(2, limit).bytesField(3, cookie).finish()
  return message(MessageType.DISCOVER, 5, body)
}

/**
 * Decodes a response Message into
 *   { type: 1, register: { status, statusText, ttl } } or
 *   { type: 4, discover: { status, statusText, cookie, registrations: [{ ns, signedPeerRecord, ttl }] } }
 * (type undefined when absent). ttl values are numbers of seconds.
 */
export function decodeMessage (buf) {
  const m = { type: undefined, register: undefined, discover: undefined }
  decodeFields(buf, {
    1: [WIRE_VARINT, (r) => { m.type = r.uint32() }],
    3: [WIRE_LEN, (r) => { m.register = decodeRegisterResponse(r.bytes()) }],
    6: [WIRE_LEN, (r) => { m.discover = decodeDiscoverResponse(r.bytes()) }]
  })
  return m
}

function decodeRegisterResponse (buf) {
  const m = { status: 0, statusText: '', ttl: 0 }
  decodeFields(buf, {
    1: [WIRE_VARINT, (r) => { m.status = r.uint32() }],
    2: [WIRE_LEN, (r) => { m.statusText = r.string() }],
    3: [WIRE_VARINT, (r) => { m.ttl = ttlSeconds(r.uint64()) }]
  })
  return m
}

function decodeDiscoverResponse (buf) {
  const m = { status: 0, statusText: '', cookie: undefined, registrations: [] }
  decodeFields(buf, {
    1: [WIRE_LEN, (r) => { m.registrations.push(decodeRegistration(r.bytes())) }],
    2: [WIRE_LEN, (r) => { m.cookie = r.bytes() }],
    3: [WIRE_VARINT, (r) => { m.status = r.uint32() }],
    4: [WIRE_LEN, (r) => { m.statusText = r.string() }]
  })
  return m
}

function decodeRegistration (buf) {
  const m = { ns: '', signedPeerRecord: undefined, ttl: 0 }
  decodeFields(buf, {
    1: [WIRE_LEN, (r) => { m.ns = r.string() }],
    2: [WIRE_LEN, (r) => { m.signedPeerRecord = r.bytes() }],
    3: [WIRE_VARINT, (r) => { m.ttl = ttlSeconds(r.uint64()) }]
  })
  return m
}

// Seconds beyond what a timer can hold are as good as "a very long time".
function ttlSeconds (v) {
  return v > 0xffffffffn ? 0xffffffff : Number(v)
}
