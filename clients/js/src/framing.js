// Unsigned-varint length-prefixed framing over js-libp2p 3.x message streams.
// The prefix is checked against the limit before the body is allocated; the
// body buffer is allocated once at its exact size.
import { MalformedMessageError, MessageTooLargeError, StreamClosedError } from './errors.js'

/** Prepends the unsigned-varint length of msg. */
export function encodeFrame (msg) {
  let n = msg.length
  const prefix = []
  while (n >= 0x80) {
    prefix.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  prefix.push(n)
  const out = new Uint8Array(prefix.length + msg.length)
  out.set(prefix, 0)
  out.set(msg, prefix.length)
  return out
}

/** Incremental decoder: push() chunks in, get whole frames out. */
export class FrameDecoder {
  /** @param {number} limit largest accepted message, in bytes */
  constructor (limit) {
    this.limit = limit
    this.prefix = 0
    this.prefixShift = 0
    this.prefixBytes = 0
    /** @type {Uint8Array | undefined} */
    this.body = undefined
    this.filled = 0
  }

  /** True while a frame is partly received. */
  get partial () { return this.prefixBytes > 0 || this.body !== undefined }

  /**
   * @param {Uint8Array} chunk
   * @returns {Uint8Array[]} complete frames in chunk order
   */
  push (chunk) {
    const frames = []
    let i = 0
    while (i < chunk.length) {
      if (this.body === undefined) {
        const b = chunk[i++]
        this.prefixBytes++
        // 2^28 already exceeds every limit this package uses; stop before
        // the number grows large enough to lose precision.
        if (this.prefixBytes > 4 && b !== 0) throw new MessageTooLargeError(Infinity, this.limit)
        if (this.prefixBytes > 10) throw new MalformedMessageError('length prefix longer than 10 bytes')
        this.prefix += (b & 0x7f) * 2 ** this.prefixShift
        this.prefixShift += 7
        if (b >= 0x80) continue
        const len = this.prefix
        this.prefix = 0
        this.prefixShift = 0
        this.prefixBytes = 0
        if (len > this.limit) throw new MessageTooLargeError(len, this.limit)
        if (len === 0) {
          frames.push(new Uint8Array(0))
          continue
        }
        this.body = new Uint8Array(len)
        this.filled = 0
      }
      const take = Math.min(this.body.length - this.filled, chunk.length - i)
      this.body.set(chunk.subarray(i, i + take), this.filled)
      this.filled += take
      i += take
      if (this.filled === this.body.length) {
        frames.push(this.body)
        this.body = undefined
      }
    }
    return frames
  }
}

/** Iterates the Uint8Array parts of a 'message' event's data. */
export function chunksOf (data) {
  return data instanceof Uint8Array ? [data] : data
}

/**
 * Calls onFrame(frame) for every frame arriving on stream and onEnd(err)
 * exactly once when the stream ends, closes or sends garbage (the stream is
 * then aborted). Returns a function that detaches the listeners.
 */
export function readFrames (stream, limit, onFrame, onEnd) {
  const decoder = new FrameDecoder(limit)
  let ended = false
  const finish = (err) => {
    if (ended) return
    ended = true
    detach()
    onEnd(err)
  }
  const onMessage = (evt) => {
    if (ended) return
    try {
      for (const chunk of chunksOf(evt.data)) {
        for (const frame of decoder.push(chunk)) {
          onFrame(frame)
          if (ended) return
        }
      }
    } catch (err) {
      stream.abort(err)
      finish(err)
    }
  }
  const onRemoteEnd = () => {
    finish(decoder.partial ? new StreamClosedError('stream ended inside a message') : undefined)
  }
  const onClose = (evt) => {
    finish(evt.error ?? (decoder.partial ? new StreamClosedError('stream closed inside a message') : undefined))
  }
  function detach () {
    stream.removeEventListener('message', onMessage)
    stream.removeEventListener('end', onRemoteEnd)
    stream.removeEventListener('close', onClose)
  }
  stream.addEventListener('message', onMessage)
  stream.addEventListener('end', onRemoteEnd)
  stream.addEventListener('close', onClose)
  if (stream.status !== 'open' && stream.status !== undefined) queueMicrotask(() => finish(new StreamClosedError('stream is not open')))
  return () => { ended = true; detach() }
}

/** Resolves with the next frame on stream; rejects on end, close, oversize or abort. */
export function readFrame (stream, limit, signal) {
  return new Promise((resolve, reject) => {
    let detach
    const onAbort = () => {
      detach?.()
      reject(signal.reason)
    }
    if (signal?.aborted) {
      reject(signal.reason)
      return
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    detach = readFrames(stream, limit, (frame) => {
      detach()
      signal?.removeEventListener('abort', onAbort)
      resolve(frame)
    }, (err) => {
      signal?.removeEventListener('abort', onAbort)
      reject(err ?? new StreamClosedError())
    })
  })
}

/** Sends one frame and waits for the stream to drain when its buffer is full. */
export async function sendFrame (stream, msg, signal) {
  if (stream.send(encodeFrame(msg))) return
  await nextDrain(stream, signal)
}

/**
 * Resolves on the stream's next 'drain'. stream.onDrain() cannot be used: in
 * libp2p 3.3 it keeps returning an already-resolved promise after the first drain.
 */
export function nextDrain (stream, signal) {
  if (!stream.writableNeedsDrain) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
      signal?.removeEventListener('abort', onAbort)
    }
    const onDrain = () => { cleanup(); resolve() }
    const onClose = (evt) => { cleanup(); reject(evt.error ?? new StreamClosedError('stream closed while waiting to send')) }
    const onAbort = () => { cleanup(); reject(signal.reason) }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
    signal?.addEventListener('abort', onAbort)
  })
}
