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
 */
export async function startNode (opts = {}) {
  const bin = process.env.RENDEZVOUS_BIN
  if (bin == null || bin === '') throw new Error('RENDEZVOUS_BIN is not set: point it at a built ./cmd/rendezvous binary')
  await stat(bin)
  const dir = await mkdtemp(join(tmpdir(), 'ws-star-client-test-'))
  // WebSockets only: these tests are about the node's /ws listener, and a
  // restart on the same port would also need the UDP listeners' random ports.
  const args = ['--host', '127.0.0.1', '--identity', join(dir, 'identity.key'), '--no-webrtc-direct', '--no-webtransport']
  if (opts.config != null) {
    await writeFile(join(dir, 'config.json'), JSON.stringify(opts.config))
    args.push('--config', join(dir, 'config.json'))
  }
  let current
  try {
    current = await launch(bin, [...args, '--port', '0'])
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  const port = current.addr.match(/\/tcp\/(\d+)\//)[1]
  return {
    get addr () { return current.addr },
    get peerId () { return current.addr.slice(current.addr.lastIndexOf('/') + 1) },
    stderrTail: () => current.tail.join('\n'),
    /** SIGTERM; resolves with { code, signal, killed } */
    stop: () => current.stop(),
    /** Starts the node again with the same identity on the same port. */
    async restart () {
      current = await launch(bin, [...args, '--port', port])
    },
    async cleanup () {
      await current.stop()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

async function launch (bin, args) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const tail = []
  createInterface({ input: child.stderr }).on('line', (line) => {
    tail.push(line)
    if (tail.length > TAIL) tail.shift()
    if (process.env.RENDEZVOUS_LOG === '1') process.stderr.write(`[node] ${line}\n`)
  })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  const failure = (what) => new Error(`${what}\n--- node stderr ---\n${tail.join('\n')}`)
  let addr
  try {
    addr = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(failure('node printed no /ws address within 15 s')), 15_000)
      child.once('error', (err) => { clearTimeout(timer); reject(err) })
      exited.then(({ code, signal }) => { clearTimeout(timer); reject(failure(`node exited early (code ${code}, signal ${signal})`)) })
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/\w+$/.test(line.trim())) {
          clearTimeout(timer)
          resolve(line.trim())
        }
      })
    })
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
  return {
    addr,
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
