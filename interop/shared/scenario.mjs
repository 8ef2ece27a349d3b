// Helpers for the node:test suites: dependent scenario steps and bounded
// waiting.
import { test } from 'node:test'

/**
 * Returns a step function for a scenario whose steps build on each other:
 * after a failure or a timeout the remaining steps are skipped instead of
 * failing with errors that only echo the first one.
 */
export function scenario () {
  let unfinished = null // the step that started but did not succeed
  return function step (name, options, fn) {
    return test(name, options, async (t) => {
      if (unfinished != null) {
        t.skip(`earlier step did not pass: ${unfinished}`)
        return
      }
      unfinished = name
      await fn(t)
      unfinished = null
    })
  }
}

/** Rejects with `what` when the promise has not settled within ms. */
export function withTimeout (promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(what)), ms) })
  ]).finally(() => clearTimeout(timer))
}

/**
 * Calls fn every 250 ms until it returns something other than undefined and
 * resolves with that; fails with `what` (and fn's last error) after timeoutMs.
 */
export async function eventually (fn, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  let lastErr
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (err) {
      lastErr = err
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}${lastErr != null ? `: ${lastErr.message}` : ''}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}
