// The real libp2p-websocket-star 0.10.2 transport (socket.io 2, as in
// js-libp2p <= 0.25 apps) against the real node binary: listeners with
// Ed25519 and RSA keys join through the crypto challenge, discover each
// other and echo data through the node; a key or signature that does not
// prove the peer ID is refused with the old server's error text.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { promisify } from 'node:util'
import { startRendezvousNode } from '../../shared/rendezvous-node.mjs'

const require = createRequire(import.meta.url)
const WebsocketStar = require('libp2p-websocket-star')
const PeerId = require('peer-id')
const pull = require('pull-stream')

let node
let port

before(async () => {
  node = await startRendezvousNode()
  port = node.addr.split('/')[4]
})

after(async () => {
  await node?.stop()
})

const wsStarAddr = (id) => `/ip4/127.0.0.1/tcp/${port}/ws/p2p-websocket-star/ipfs/${id.toB58String()}`

async function newPeer (keyType) {
  const id = await promisify(PeerId.create)({ keyType, bits: 2048 })
  const ws = new WebsocketStar({ id })
  const seen = new Set()
  ws.discovery.on('peer', (info) => seen.add(info.id.toB58String()))
  // Every incoming connection echoes what it receives.
  const listener = ws.createListener((conn) => pull(conn, conn))
  const ma = require('multiaddr')(wsStarAddr(id))
  return { id, ws, seen, listener, ma }
}

const listen = (p) => new Promise((resolve, reject) => {
  p.listener.listen(p.ma, (err) => err ? reject(err) : resolve())
})

const echo = (from, to, data) => new Promise((resolve, reject) => {
  from.ws.dial(to.ma, (err, conn) => {
    if (err) return reject(err)
    pull(pull.values([data]), conn, pull.collect((err, chunks) => {
      if (err) return reject(err)
      resolve(Buffer.concat(chunks))
    }))
  })
})

async function waitFor (what, ok, ms = 10_000) {
  const deadline = Date.now() + ms
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

test('two Ed25519 and two RSA listeners join through the challenge, discover each other and echo through the node', async () => {
  const peers = await Promise.all(['ed25519', 'ed25519', 'RSA', 'RSA'].map(newPeer))
  for (const p of peers) await listen(p)
  try {
    for (const p of peers) {
      const others = peers.filter((o) => o !== p).map((o) => o.id.toB58String())
      await waitFor(`${p.id.toB58String()} to discover the others`, () => others.every((o) => p.seen.has(o)))
    }
    const pairs = [[0, 2], [2, 0], [1, 3], [3, 1], [0, 1], [2, 3]]
    for (const [a, b] of pairs) {
      const data = Buffer.from(`hello from ${a} to ${b} `.repeat(1000))
      const got = await echo(peers[a], peers[b], data)
      assert.deepEqual(got, data, `echo ${a} -> ${b}`)
    }
  } finally {
    for (const p of peers) await promisify((cb) => p.listener.close(cb))()
  }
})

test('a key that is not the peer ID\'s is refused: "Id is not matching"', async () => {
  const p = await newPeer('ed25519')
  const other = await promisify(PeerId.create)({ keyType: 'ed25519' })
  p.ma = require('multiaddr')(wsStarAddr(other))
  p.listener.on('error', () => {})
  await assert.rejects(listen(p), /Id is not matching/)
})

test('a signature that is not of the nonce is refused: "Signature Invalid"', async () => {
  const p = await newPeer('ed25519')
  const sign = p.id.privKey.sign.bind(p.id.privKey)
  p.id.privKey.sign = (data, cb) => sign(Buffer.from('not the nonce'), cb)
  p.listener.on('error', () => {})
  await assert.rejects(listen(p), /Signature Invalid/)
})
