// Starts the real rendezvous node binary for the interop suites and stops it
// again by its PID. No npm dependencies, so every npm project can import it.
import { spawn } from 'node:child_process'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const STDERR_TAIL_LINES = 60

/**
 * Starts `$RENDEZVOUS_BIN --host 127.0.0.1 --port 0 --identity <tmp>` and
 * resolves once the node has printed its /ws multiaddr on stdout.
 *
 * @param {object} [opts]
 * @param {string[]} [opts.args] extra command-line arguments
 * @param {object} [opts.config] a config file's contents, passed with --config
 * @param {number} [opts.startTimeoutMs] how long to wait for the address
 */
export async function startRendezvousNode (opts = {}) {
  const bin = process.env.RENDEZVOUS_BIN
  if (bin == null || bin === '') {
    throw new Error('RENDEZVOUS_BIN is not set: point it at a built ./cmd/rendezvous binary')
  }
  await stat(bin) // a clear ENOENT instead of a spawn error event

  const dir = await mkdtemp(join(tmpdir(), 'rendezvous-interop-'))
  const identity = join(dir, 'identity.key')
  const args = ['--host', '127.0.0.1', '--port', '0', '--identity', identity, ...(opts.args ?? [])]
  if (opts.config != null) {
    const file = join(dir, 'config.json')
    await writeFile(file, JSON.stringify(opts.config))
    args.push('--config', file)
  }
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })

  const stderrTail = []
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderrTail.push(line)
    if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift()
    if (process.env.RENDEZVOUS_LOG === '1') process.stderr.write(`[node] ${line}\n`)
  })

  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  const describeFailure = (what) =>
    new Error(`${what}\n--- node stderr (last ${STDERR_TAIL_LINES} lines) ---\n${stderrTail.join('\n')}`)

  const addrs = []
  let addr
  try {
    addr = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(describeFailure('node printed no /ws address in time')),
        opts.startTimeoutMs ?? 15_000)
      child.once('error', (err) => { clearTimeout(timer); reject(err) })
      exited.then(({ code, signal }) => {
        clearTimeout(timer)
        reject(describeFailure(`node exited before printing its address (code ${code}, signal ${signal})`))
      })
      createInterface({ input: child.stdout }).on('line', (line) => {
        line = line.trim()
        if (line === '') return
        addrs.push(line)
        if (/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/\w+$/.test(line)) {
          clearTimeout(timer)
          resolve(line)
        }
      })
    })
  } catch (err) {
    child.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
    throw err
  }

  return {
    pid: child.pid,
    /** the node's loopback WebSocket multiaddr, ending in /p2p/<id> */
    addr,
    /** every line the node printed on stdout so far */
    addrs,
    peerId: addr.slice(addr.lastIndexOf('/') + 1),
    /** the base URL of the node's HTTP endpoints (/metrics, /healthz) */
    httpURL: `http://127.0.0.1:${addr.match(/\/tcp\/(\d+)\//)[1]}`,
    identity,
    stderrTail: () => stderrTail.join('\n'),

    /**
     * Sends SIGTERM to the node's PID and resolves with its exit status; after
     * graceMs it sends SIGKILL and reports that it had to.
     */
    async stop (graceMs = 15_000) {
      let killed = false
      if (child.exitCode == null && child.signalCode == null) {
        process.kill(child.pid, 'SIGTERM')
        const timer = setTimeout(() => {
          killed = true
          process.kill(child.pid, 'SIGKILL')
        }, graceMs)
        await exited
        clearTimeout(timer)
      }
      const status = await exited
      await rm(dir, { recursive: true, force: true })
      return { ...status, killed }
    }
  }
}
