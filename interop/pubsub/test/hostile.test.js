// What a hostile js-libp2p app sends through the node never reaches the
// honest apps: announcements of another peer's key, messages that are not
// announcements, and messages on topics the node does not serve. The node
// counts each in rendezvous_pubsub_messages_total.
import '../../shared/polyfill.mjs'
import assert from 'node:assert/strict'
import { after, before, describe } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { startRendezvousNode } from '../../shared/rendezvous-node.mjs'
import { eventually, scenario } from '../../shared/scenario.mjs'
import { createApp, createHostileApp, TOPIC } from '../app.js'
import { metric } from '../metrics.js'
import { FAST_NODE, INTERVAL, stopAll } from '../suite.js'

const CHAT = 'chat' // a topic the node does not serve
const JUNK = new TextEncoder().encode('\xff\xff\xff not a Peer message')

/** Long enough for anything the node forwarded to arrive: announce rounds and gossipsub heartbeats. */
const QUIET_MS = 2_500

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

describe('forged, junk and unserved-topic messages through the rendezvous node', { timeout: 120_000 }, () => {
  const step = scenario()
  let node, a, b, hostile
  const count = (result, topic = TOPIC) => metric(node, 'rendezvous_pubsub_messages_total', { topic, result })

  before(async () => {
    node = await startRendezvousNode({ config: FAST_NODE })
  })

  after(() => stopAll(node, [a, b, hostile]))

  step('two honest apps find each other', { timeout: 30_000 }, async () => {
    a = await createApp(node.addr, { interval: INTERVAL })
    b = await createApp(node.addr, { interval: INTERVAL })
    // b also uses a topic of its own, which the node does not serve.
    b.libp2p.services.pubsub.subscribe(CHAT)
    await Promise.all([a.found(b.peerId, node.addr, 20_000), b.found(a.peerId, node.addr, 20_000)])
    hostile = await createHostileApp(node.addr, node.peerId)
  })

  step('a message on a topic the node does not serve reaches no app', { timeout: 30_000 }, async () => {
    await hostile.unserved(CHAT, new TextEncoder().encode('hello'))
    await eventually(async () => (await count('unserved_topic', 'other')) >= 1 || undefined,
      10_000, 'the node did not count the message on an unserved topic')
    await pause(QUIET_MS)
    assert.deepEqual(b.messages.filter((m) => m.topic === CHAT), [], 'a message on an unserved topic reached an app')
  })

  step('announcements of another peer\'s key are rejected and reach no app', { timeout: 30_000 }, async () => {
    // A peer that is not there, and an honest app, each announced at the
    // hostile app's address.
    const victim = (await generateKeyPair('Ed25519')).publicKey
    const victimId = peerIdFromPublicKey(victim).toString()
    const hostileAddr = multiaddr(`${node.addr}/p2p-circuit/p2p/${hostile.peerId}`)
    await hostile.forge(victim, [hostileAddr])
    await hostile.forge(b.peerId.publicKey, [hostileAddr])
    await eventually(async () => (await count('forged')) === 2 || undefined,
      10_000, 'the node did not count two forged announcements')
    await pause(QUIET_MS)
    assert.deepEqual(a.addrsOf(victimId), [], 'a forged announcement made an app discover its victim')
    assert.ok(!a.addrsOf(b.peerId).includes(hostileAddr.toString()), 'a forged announcement gave an app the hostile address for an honest one')
  })

  step('a message that is not an announcement is rejected and reaches no app', { timeout: 30_000 }, async () => {
    await hostile.junk(JUNK)
    await eventually(async () => (await count('junk')) === 1 || undefined,
      10_000, 'the node did not count the junk')
    await pause(QUIET_MS)
    for (const app of [a, b]) {
      assert.ok(!app.messages.some((m) => Buffer.from(m.data).equals(Buffer.from(JUNK))), 'junk reached an app')
    }
  })

  step('every message the honest apps received is the node\'s own announcement', async () => {
    for (const app of [a, b]) {
      assert.ok(app.messages.length > 0, 'an app received no announcement')
      const others = app.messages.filter((m) => m.from !== node.peerId)
      assert.deepEqual(others.map((m) => `${m.topic} from ${m.from}`), [], 'an app received a message the node did not author')
    }
    assert.ok(await count('announced') >= 2, 'the honest apps\' announcements were not counted')
  })
})
