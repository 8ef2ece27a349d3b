// Holds N idle js-libp2p peers on a node, each connected over /ws with a
// relay reservation and nothing else, for a while; then closes them. It is
// the real-browser reference for `rendezvous-bench capacity --ping-every`:
// js-libp2p's connection monitor pings every connection every 10 s.
//
//   node --experimental-websocket load/idle.mjs <node multiaddr> <peers> <seconds> [node pid] [ping ms]
//
// [ping ms] sets the connection monitor's pingInterval (default js-libp2p's
// 10000); 0 turns the monitor off.
// Progress and the number of peers up go to stderr; loopback only. With the
// node's pid it also prints the node's CPU over the idle window (from
// /proc/<pid>/stat, user + system), per 1,000 peers, and its RSS.
import '../../shared/polyfill.mjs'
import { multiaddr } from '@multiformats/multiaddr'
import { readFileSync } from 'node:fs'
import { createPeer } from '../peer.js'

const [addr, peersArg = '500', secondsArg = '60', pidArg, pingArg] = process.argv.slice(2)
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
const pingMs = pingArg == null ? undefined : Number(pingArg)
const monitor = pingMs == null ? {} : pingMs === 0 ? { enabled: false } : { pingInterval: pingMs }
async function startOne () {
  const p = await createPeer({ connectionMonitor: monitor })
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
console.error(`ramp done in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${peers.length} up, ${failed} failed; ` +
  `idle for ${seconds} s, connection monitor ${pingMs === 0 ? 'off' : `pinging every ${pingMs ?? 10000} ms`}`)
console.log(`READY ${peers.length}`)
const before = nodeSample()
await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
const after = nodeSample()
if (before != null && after != null) {
  const cpu = 100 * (after.cpu - before.cpu) / ((after.at - before.at) / 1000)
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  console.log(`node CPU over ${seconds} s: ${cpu.toFixed(2)} % of a core, ` +
    `${(cpu * 1000 / peers.length).toFixed(2)} % per 1,000 peers; ` +
    `node RSS ${(after.rss / 1024).toFixed(1)} MiB; load average ${load}`)
}
await Promise.all(peers.map((p) => p.stop()))
console.error('closed')
process.exit(0)

// nodeSample reads the node's CPU seconds and RSS (KiB) from /proc, or
// returns undefined without a pid.
function nodeSample () {
  if (pidArg == null) return undefined
  const stat = readFileSync(`/proc/${pidArg}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields 14 and 15 (utime, stime) in clock ticks of 1/100 s
  const cpu = (Number(f[11]) + Number(f[12])) / 100
  const rss = Number(readFileSync(`/proc/${pidArg}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1])
  return { at: Date.now(), cpu, rss }
}
