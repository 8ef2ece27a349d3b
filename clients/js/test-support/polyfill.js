// Imported before anything from libp2p: js-libp2p 3.x uses APIs that Node 20
// has only behind a flag or not at all.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve, reject
    const promise = new Promise((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}

// Node 20 has a standards-compliant WebSocket only with --experimental-websocket.
if (typeof globalThis.WebSocket !== 'function') {
  throw new Error('no global WebSocket: run Node 20 with --experimental-websocket (Node 22+ has it by default)')
}
