// Scenario steps for node:test: each step builds on the ones before it, so
// after a failure the rest are skipped instead of echoing the first error.
import { test } from 'node:test'

export function scenario () {
  let unfinished = null
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
