// Reads the node's Prometheus metrics.

/**
 * The sum of the samples of metric name whose labels include every one of
 * labels (0 when there is none).
 *
 * @param {{ httpURL: string }} node from startRendezvousNode
 * @param {string} name
 * @param {Record<string, string>} [labels]
 */
export async function metric (node, name, labels = {}) {
  const res = await fetch(`${node.httpURL}/metrics`, { signal: AbortSignal.timeout(5_000) })
  if (!res.ok) throw new Error(`GET /metrics: ${res.status}`)
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  let sum = 0
  for (const line of (await res.text()).split('\n')) {
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/)
    if (m == null || m[1] !== name) continue
    const have = (m[2] ?? '').split(',')
    if (wanted.every((l) => have.includes(l))) sum += Number(m[3])
  }
  return sum
}
