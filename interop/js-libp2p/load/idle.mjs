// Holds N idle js-libp2p peers on a node, each connected over /ws with a
// relay reservation and nothing else, for a while; then closes them. It is
// the real-browser reference for `rendezvous-bench capacity --ping-every`:
// js-libp2p's connection monitor pings every connection every 10 s.
//
//   node --experimental-websocket load/idle.mjs <node multiaddr> <peers> <seconds>
//
// Progress and the number of peers up go to stderr; loopback only.
import '../../shared/polyfill.mjs'
import { multiaddr } from '@multiformats/multiaddr'
import { createPeer } from '../peer.js'

const [addr, peersArg = '500', secondsArg = '60'] = process.argv.slice(2)
if (addr == null || !/^\/ip[46]\/(127\.|::1)/.test(addr)) {
  console.error('usage: idle.mjs <loopback node multiaddr ending in /p2p/<id>> [peers] [seconds]')
  process.exit(2)
}
const total = Number(peersArg)
const seconds = Number(secondsArg)
const concurrency = 16

const peers = []
let failed = 0
let next = 0
async function startOne () {
  const p = await createPeer()
  try {
    await p.dial(multiaddr(addr), { signal: AbortSignal.timeout(30_000) })
    await p.services.transports.listen([multiaddr(`${addr}/p2p-circuit`)])
    peers.push(p)
  } catch (err) {
    failed++
    if (failed <= 3) console.error('peer failed:', err.message)
    await p.stop()
  }
}
async function worker () {
  while (next < total) {
    next++
    await startOne()
  }
}
const t0 = Date.now()
const ticker = setInterval(() => console.error(`ramp: ${peers.length}/${total} up, ${failed} failed`), 5000)
await Promise.all(Array.from({ length: concurrency }, worker))
clearInterval(ticker)
console.error(`ramp done in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${peers.length} up, ${failed} failed; idle for ${seconds} s`)
console.log(`READY ${peers.length}`)
await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
await Promise.all(peers.map((p) => p.stop()))
console.error('closed')
process.exit(0)
