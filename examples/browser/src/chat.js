// The demo's chat protocol: one stream per message, the UTF-8 text and then
// end of stream. Receivers stop reading past MAX_MESSAGE_BYTES.
export const CHAT_PROTOCOL = '/ws-star-demo/chat/1.0.0'
export const MAX_MESSAGE_BYTES = 2048

import { isDirectConnection } from '@ws-star/libp2p-client'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * Sends text to peerId over a new stream: over the direct (WebRTC) connection
 * when there is one, else through the relay. Resolves with the connection used.
 */
export async function sendMessage (libp2p, peerId, text) {
  const bytes = encoder.encode(text)
  if (bytes.length > MAX_MESSAGE_BYTES) throw new Error(`message is longer than ${MAX_MESSAGE_BYTES} bytes`)
  const signal = AbortSignal.timeout(10_000)
  // js-libp2p picks a direct connection first too; choosing it here makes the
  // page's "direct" label a fact about this very stream.
  const direct = libp2p.getConnections(peerId).find((c) => c.status === 'open' && isDirectConnection(c))
  const stream = direct !== undefined
    ? await direct.newStream(CHAT_PROTOCOL, { signal })
    : await libp2p.dialProtocol(peerId, CHAT_PROTOCOL, { signal, runOnLimitedConnection: true })
  const used = direct ?? libp2p.getConnections(peerId).find((c) => c.streams.includes(stream))
  stream.send(bytes)
  await stream.close({ signal })
  return used
}

/** Calls onMessage(peerId, text, connection) for every message received. */
export async function handleMessages (libp2p, onMessage) {
  await libp2p.handle(CHAT_PROTOCOL, (stream, connection) => {
    const parts = []
    let size = 0
    const timer = setTimeout(() => stream.abort(new Error('message took too long')), 10_000)
    stream.addEventListener('message', (evt) => {
      for (const part of evt.data instanceof Uint8Array ? [evt.data] : evt.data) {
        size += part.byteLength
        if (size > MAX_MESSAGE_BYTES) {
          clearTimeout(timer)
          stream.abort(new Error('message too long'))
          return
        }
        parts.push(part.slice())
      }
    })
    stream.addEventListener('end', () => {
      clearTimeout(timer)
      if (size > MAX_MESSAGE_BYTES) return
      const all = new Uint8Array(size)
      let off = 0
      for (const p of parts) { all.set(p, off); off += p.length }
      let text
      try {
        text = decoder.decode(all)
      } catch {
        return // not UTF-8: not from this demo
      }
      stream.close().catch(() => {})
      onMessage(connection.remotePeer, text, connection)
    })
    stream.addEventListener('close', () => clearTimeout(timer))
  }, { runOnLimitedConnection: true })
}
