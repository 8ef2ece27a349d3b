// Module resolve hooks that load @ws-star/libp2p-client from this repository
// (clients/js/src), as examples/browser's build does: an app installs it
// from npm next to its own js-libp2p. Its libp2p imports are peer
// dependencies, so they resolve to this project's node_modules (one copy of
// libp2p), never to the client's own devDependencies, which need not be
// installed. Registered by client.js.
const client = new URL('../../clients/js/src/', import.meta.url).href
const project = new URL('./', import.meta.url).href

export async function resolve (specifier, context, nextResolve) {
  if (specifier === '@ws-star/libp2p-client') {
    return nextResolve(new URL('index.js', client).href, context)
  }
  const bare = !/^(\.|\/|[a-z]+:)/.test(specifier)
  if (bare && context.parentURL?.startsWith(client)) {
    return nextResolve(specifier, { ...context, parentURL: project })
  }
  return nextResolve(specifier, context)
}
