// Reconnect timing shared by the clients.

/**
 * Jittered exponential backoff ("equal jitter"): the ceiling doubles with each
 * attempt up to maxDelay, and the delay is drawn from [ceiling/2, ceiling] so
 * that peers dropped by the same node restart do not come back in lockstep.
 * @param {number} attempt 0 for the first retry
 * @param {{ initialDelay: number, maxDelay: number }} opts milliseconds
 * @param {() => number} [random] a source in [0, 1)
 */
export function backoffDelay (attempt, { initialDelay, maxDelay }, random = Math.random) {
  const ceiling = Math.min(maxDelay, initialDelay * 2 ** Math.min(attempt, 30))
  return Math.round(ceiling / 2 + random() * (ceiling / 2))
}

/** Resolves after ms, or rejects with signal.reason when it aborts first. */
export function sleep (ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason)
      return
    }
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** An AbortSignal that aborts when any of the given ones do, or after ms. */
export function anySignal (signals, ms) {
  const list = signals.filter((s) => s != null)
  if (ms != null) list.push(AbortSignal.timeout(ms))
  return AbortSignal.any(list)
}
