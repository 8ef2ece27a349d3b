// @ws-star/libp2p-client (clients/js) as an app that installed it sees it
// (see client-from-repo.js). Import it dynamically: the hooks must be
// registered before the package is resolved.
import { register } from 'node:module'

register('./client-from-repo.js', import.meta.url)

export const { wsStar, rendezvousClient } = await import('@ws-star/libp2p-client')
