// Stream helpers for js-libp2p 3.x message streams that respect
// back-pressure and never rely on async iteration of a paused stream.
import { createHash, randomFillSync } from 'node:crypto'

/**
 * Resolves on the stream's next 'drain' event; rejects when it closes first
 * or the signal aborts. stream.onDrain() cannot be used for this: once it has
 * resolved it keeps returning the resolved promise.
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
    const onClose = (evt) => { cleanup(); reject(evt.error ?? new Error('stream closed while waiting for drain')) }
    const onAbort = () => { cleanup(); reject(signal.reason) }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
    signal?.addEventListener('abort', onAbort)
  })
}

/**
 * Echoes every byte back to the sender. Reading pauses while the outgoing
 * side waits for a drain, so a fast sender is slowed down instead of
 * filling memory. Closes its writable end once the remote has finished.
 */
export function echo (stream) {
  stream.addEventListener('message', (evt) => {
    if (stream.send(evt.data)) return
    stream.pause()
    nextDrain(stream).then(() => {
      if (stream.readStatus === 'paused') stream.resume()
    }, () => {})
  })
  stream.addEventListener('end', () => {
    stream.close().catch(() => {})
  })
}

/**
 * Sends `total` pseudo-random bytes in `chunkSize` pieces, awaiting a drain
 * whenever the stream asks for one. Resolves with the SHA-256 of what was sent.
 */
export async function sendRandom (stream, total, { chunkSize = 64 * 1024, signal } = {}) {
  const hash = createHash('sha256')
  for (let sent = 0; sent < total;) {
    signal?.throwIfAborted()
    const chunk = randomFillSync(new Uint8Array(Math.min(chunkSize, total - sent)))
    hash.update(chunk)
    sent += chunk.byteLength
    if (!stream.send(chunk)) await nextDrain(stream, signal)
  }
  return hash.digest('hex')
}

/**
 * Reads exactly `total` bytes and resolves with their SHA-256. Rejects when
 * the stream closes or ends early, or more bytes arrive than expected.
 */
export function receiveHash (stream, total, { signal } = {}) {
  const hash = createHash('sha256')
  let received = 0
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('close', onClose)
      stream.removeEventListener('end', onEnd)
      signal?.removeEventListener('abort', onAbort)
    }
    const fail = (err) => { cleanup(); reject(err) }
    const onMessage = (evt) => {
      // evt.data is a Uint8Array or a Uint8ArrayList (iterable of Uint8Arrays)
      const parts = evt.data instanceof Uint8Array ? [evt.data] : evt.data
      for (const part of parts) {
        hash.update(part)
        received += part.byteLength
      }
      if (received > total) {
        fail(new Error(`received ${received} bytes, expected ${total}`))
      } else if (received === total) {
        cleanup()
        resolve(hash.digest('hex'))
      }
    }
    const onClose = (evt) => fail(evt.error ?? new Error(`stream closed after ${received} of ${total} bytes`))
    const onEnd = () => fail(new Error(`stream ended after ${received} of ${total} bytes`))
    const onAbort = () => fail(new Error(`gave up after ${received} of ${total} bytes: ${signal.reason}`))
    stream.addEventListener('message', onMessage)
    stream.addEventListener('close', onClose)
    stream.addEventListener('end', onEnd)
    signal?.addEventListener('abort', onAbort)
  })
}
