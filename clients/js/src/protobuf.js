// Minimal protobuf (proto3/proto2 wire format) reader and writer. Hand-written
// instead of generated so that the package adds a few hundred bytes to a
// browser bundle; every read is checked against the remaining input so a
// hostile peer cannot make the decoder allocate or loop past the message.
import { MalformedMessageError } from './errors.js'

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

export const WIRE_VARINT = 0
export const WIRE_I64 = 1
export const WIRE_LEN = 2
export const WIRE_I32 = 5

export class Reader {
  /** @param {Uint8Array} buf */
  constructor (buf) {
    this.buf = buf
    this.pos = 0
  }

  get done () { return this.pos >= this.buf.length }

  /** Reads a varint of at most 10 bytes as a BigInt. */
  uint64 () {
    let result = 0n
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.buf.length) throw new MalformedMessageError('truncated varint')
      const b = this.buf[this.pos++]
      result |= BigInt(b & 0x7f) << shift
      if (b < 0x80) {
        if (result > 0xffffffffffffffffn) throw new MalformedMessageError('varint overflows 64 bits')
        return result
      }
    }
    throw new MalformedMessageError('varint longer than 10 bytes')
  }

  /** Reads a varint that must fit a JS number exactly (lengths, enums, uint32). */
  uint () {
    // Fast path for the common one- and two-byte varints.
    const b0 = this.buf[this.pos]
    if (b0 !== undefined && b0 < 0x80) { this.pos++; return b0 }
    const v = this.uint64()
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedMessageError('varint too large')
    return Number(v)
  }

  uint32 () {
    // proto3 uint32 fields carry the low 32 bits of the varint.
    return Number(this.uint64() & 0xffffffffn)
  }

  bool () { return this.uint64() !== 0n }

  bytes () {
    const len = this.uint()
    if (len > this.buf.length - this.pos) throw new MalformedMessageError('length-delimited field runs past the message')
    const out = this.buf.subarray(this.pos, this.pos + len)
    this.pos += len
    return out
  }

  string () {
    try {
      return utf8Decoder.decode(this.bytes())
    } catch (err) {
      if (err instanceof MalformedMessageError) throw err
      throw new MalformedMessageError('string field is not valid UTF-8')
    }
  }

  /** @returns {[number, number]} field number and wire type */
  tag () {
    const t = this.uint()
    const field = Math.floor(t / 8)
    if (field === 0) throw new MalformedMessageError('field number 0')
    return [field, t & 7]
  }

  skip (wireType) {
    switch (wireType) {
      case WIRE_VARINT: this.uint64(); return
      case WIRE_I64: this.advance(8); return
      case WIRE_LEN: this.bytes(); return
      case WIRE_I32: this.advance(4); return
      default: throw new MalformedMessageError(`unsupported wire type ${wireType}`)
    }
  }

  advance (n) {
    if (n > this.buf.length - this.pos) throw new MalformedMessageError('fixed-size field runs past the message')
    this.pos += n
  }
}

/**
 * Decodes buf field by field. `fields` maps a field number to
 * [expected wire type, handler(reader)]; other fields are skipped, and a known
 * field with another wire type is an error.
 */
export function decodeFields (buf, fields) {
  const r = new Reader(buf)
  while (!r.done) {
    const [field, wireType] = r.tag()
    const spec = fields[field]
    if (spec === undefined) {
      r.skip(wireType)
      continue
    }
    if (spec[0] !== wireType) throw new MalformedMessageError(`field ${field} has wire type ${wireType}, expected ${spec[0]}`)
    spec[1](r)
  }
}

export class Writer {
  constructor () {
    /** @type {Uint8Array[]} */
    this.parts = []
    this.length = 0
  }

  varint (v) {
    let n = typeof v === 'bigint' ? v : BigInt(v)
    const out = []
    while (n >= 0x80n) {
      out.push(Number(n & 0x7fn) | 0x80)
      n >>= 7n
    }
    out.push(Number(n))
    this.push(Uint8Array.from(out))
    return this
  }

  push (bytes) {
    this.parts.push(bytes)
    this.length += bytes.length
    return this
  }

  tag (field, wireType) { return this.varint(field * 8 + wireType) }

  /** Writes a varint field, omitting the proto3 default. */
  uintField (field, v) {
    if (v == null || v === 0 || v === 0n || v === false) return this
    return this.tag(field, WIRE_VARINT).varint(v === true ? 1 : v)
  }

  bytesField (field, bytes) {
    if (bytes == null || bytes.length === 0) return this
    return this.tag(field, WIRE_LEN).varint(bytes.length).push(bytes)
  }

  stringField (field, s) {
    if (s == null || s === '') return this
    return this.bytesField(field, utf8Encoder.encode(s))
  }

  /** Writes a nested message even when it is empty (oneof members must be present). */
  messageField (field, bytes) {
    return this.tag(field, WIRE_LEN).varint(bytes.length).push(bytes)
  }

  finish () {
    const out = new Uint8Array(this.length)
    let off = 0
    for (const p of this.parts) {
      out.set(p, off)
      off += p.length
    }
    return out
  }
}

export function utf8Length (s) {
  return utf8Encoder.encode(s).length
}
