// What the suites share.
import assert from 'node:assert/strict'

/**
 * The node announces each member once a second instead of every 10 s, so the
 * suites need not wait for pubsub-peer-discovery's default interval.
 */
export const FAST_NODE = { pubsub: { announce_interval: '1s' } }

/** The apps' pubsub-peer-discovery interval in the suites (default 10 s). */
export const INTERVAL = 1_000

/**
 * Stops every peer that started, then the node by its PID, and checks that
 * the node exited cleanly on SIGTERM.
 */
export async function stopAll (node, peers) {
  await Promise.allSettled(peers.filter((p) => p != null).map((p) => p.stop()))
  if (node == null) return
  const status = await node.stop()
  assert.equal(status.killed, false, 'node did not exit within the grace period after SIGTERM')
  assert.equal(status.code, 0, `node exited with ${JSON.stringify(status)}\n${node.stderrTail()}`)
}
