// Bundles the demo into dist/ with esbuild. `node build.mjs --serve [port]`
// also serves dist/ on 127.0.0.1 for trying it out by hand. `node build.mjs
// --embed [dir]` writes the copy the node serves at /demo/ (node/demo/, no
// source map); interop's TestEmbeddedDemoIsAFreshBuild keeps it current.
import { copyFile, mkdir, readFile, stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import { dirname, extname, join, normalize, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'

const here = dirname(fileURLToPath(import.meta.url))
const clientDir = resolve(here, '../../clients/js')
export const EMBED_DIR = resolve(here, '../../node/demo')
/** The files of a build, as the node embeds them. */
export const EMBED_FILES = ['index.html', 'app.js', 'style.css']

/**
 * The client package lives in this repository; an app would install it from
 * npm. Its libp2p imports are peer dependencies, so they must resolve to this
 * demo's node_modules (one copy of libp2p in the bundle), not to the client's
 * own devDependencies.
 */
const clientFromRepo = {
  name: 'client-from-repo',
  setup (build) {
    build.onResolve({ filter: /^@ws-star\/libp2p-client$/ }, () => ({ path: join(clientDir, 'src/index.js') }))
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (!args.importer.startsWith(join(clientDir, 'src') + sep)) return undefined
      return build.resolve(args.path, { kind: args.kind, resolveDir: here })
    })
  }
}

/**
 * @param {object} [opts]
 * @param {string} [opts.outdir] default dist/
 * @param {boolean} [opts.minify] default true
 * @param {boolean} [opts.sourcemap] default true
 * @returns {Promise<{ outdir: string, bytes: number }>}
 */
export async function build ({ outdir = join(here, 'dist'), minify = true, sourcemap = true } = {}) {
  await mkdir(outdir, { recursive: true })
  const result = await esbuild.build({
    entryPoints: [join(here, 'src/main.js')],
    outfile: join(outdir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome120', 'firefox120', 'safari17'],
    minify,
    sourcemap,
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [clientFromRepo]
  })
  await Promise.all(['index.html', 'style.css'].map((f) => copyFile(join(here, f), join(outdir, f))))
  return { outdir, bytes: result.metafile.outputs[Object.keys(result.metafile.outputs).find((k) => k.endsWith('app.js'))].bytes }
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json' }

/**
 * Serves dir on 127.0.0.1 (GET only, no directory listings, nothing outside dir).
 * @returns {Promise<{ url: string, close: () => Promise<void> }>}
 */
export async function serve (dir, port = 0) {
  const root = resolve(dir)
  const server = createServer(async (req, res) => {
    try {
      const path = new URL(req.url, 'http://x').pathname
      const file = normalize(join(root, path === '/' ? 'index.html' : decodeURIComponent(path)))
      if (req.method !== 'GET' || !file.startsWith(root + sep) || !(await stat(file)).isFile()) throw new Error('not found')
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' })
      res.end(await readFile(file))
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
    }
  })
  await new Promise((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const e = process.argv.indexOf('--embed')
  if (e !== -1) {
    const { outdir, bytes } = await build({ outdir: process.argv[e + 1] ?? EMBED_DIR, sourcemap: false })
    console.log(`built ${outdir}/app.js (${(bytes / 1024).toFixed(0)} KiB) for the node's /demo/`)
    process.exit(0)
  }
  const { outdir, bytes } = await build()
  console.log(`built ${outdir}/app.js (${(bytes / 1024).toFixed(0)} KiB)`)
  const i = process.argv.indexOf('--serve')
  if (i !== -1) {
    const { url } = await serve(outdir, Number(process.argv[i + 1] ?? 8080))
    console.log(`serving ${url}?node=<node multiaddr>`)
  }
}
