// Starts the real rendezvous node binary ($RENDEZVOUS_BIN) for these tests,
// with an identity file and a port that survive a restart.
import { spawn } from 'node:child_process'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const TAIL = 60

/**
 * @param {object} [opts]
 * @param {object} [opts.config] JSON configuration passed with --config
 * @param {boolean} [opts.udp] also listen on WebRTC-direct and WebTransport
 * (random UDP ports, printed as `addrs`); such a node cannot be restarted on
 * the same ports
 */
export async function startNode (opts = {}) {
  const bin = process.env.RENDEZVOUS_BIN
  if (bin == null || bin === '') throw new Error('RENDEZVOUS_BIN is not set: point it at a built ./cmd/rendezvous binary')
  await stat(bin)
  const dir = await mkdtemp(join(tmpdir(), 'ws-star-client-test-'))
  // WebSockets only unless asked: most tests are about the node's /ws
  // listener, and a restart on the same port would also need the UDP
  // listeners' random ports.
  const udp = opts.udp === true
  const args = ['--host', '127.0.0.1', '--identity', join(dir, 'identity.key')]
  if (!udp) args.push('--no-webrtc-direct', '--no-webtransport')
  if (opts.config != null) {
    await writeFile(join(dir, 'config.json'), JSON.stringify(opts.config))
    args.push('--config', join(dir, 'config.json'))
  }
  let current
  try {
    current = await launch(bin, [...args, '--port', '0'], udp)
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  const port = current.addr.match(/\/tcp\/(\d+)\//)[1]
  return {
    get addr () { return current.addr },
    /** The printed addresses by transport: { ws, webrtcDirect?, webtransport? }. */
    get addrs () { return current.addrs },
    get peerId () { return current.addr.slice(current.addr.lastIndexOf('/') + 1) },
    stderrTail: () => current.tail.join('\n'),
    /** SIGTERM; resolves with { code, signal, killed } */
    stop: () => current.stop(),
    /** Starts the node again with the same identity on the same port. */
    async restart () {
      if (udp) throw new Error('startNode({ udp: true }): restart on the same UDP ports is not supported')
      current = await launch(bin, [...args, '--port', port], udp)
    },
    async cleanup () {
      await current.stop()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

const PRINTED = {
  ws: /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/\w+$/,
  webrtcDirect: /^\/ip4\/127\.0\.0\.1\/udp\/\d+\/webrtc-direct\/certhash\/[\w-]+\/p2p\/\w+$/,
  webtransport: /^\/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1\/webtransport(\/certhash\/[\w-]+){2}\/p2p\/\w+$/
}

async function launch (bin, args, udp) {
  const wanted = udp ? Object.keys(PRINTED) : ['ws']
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const tail = []
  createInterface({ input: child.stderr }).on('line', (line) => {
    tail.push(line)
    if (tail.length > TAIL) tail.shift()
    if (process.env.RENDEZVOUS_LOG === '1') process.stderr.write(`[node] ${line}\n`)
  })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  const failure = (what) => new Error(`${what}\n--- node stderr ---\n${tail.join('\n')}`)
  const addrs = {}
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(failure(`node printed no ${wanted.filter((k) => addrs[k] == null).join(', ')} address within 15 s`)), 15_000)
      child.once('error', (err) => { clearTimeout(timer); reject(err) })
      exited.then(({ code, signal }) => { clearTimeout(timer); reject(failure(`node exited early (code ${code}, signal ${signal})`)) })
      createInterface({ input: child.stdout }).on('line', (line) => {
        const printed = wanted.find((k) => PRINTED[k].test(line.trim()))
        if (printed === undefined) return
        addrs[printed] = line.trim()
        if (wanted.every((k) => addrs[k] != null)) {
          clearTimeout(timer)
          resolve()
        }
      })
    })
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
  return {
    addr: addrs.ws,
    addrs,
    tail,
    async stop (graceMs = 15_000) {
      let killed = false
      if (child.exitCode == null && child.signalCode == null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => { killed = true; child.kill('SIGKILL') }, graceMs)
        await exited
        clearTimeout(timer)
      }
      return { ...(await exited), killed }
    }
  }
}
