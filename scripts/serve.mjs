// A static file server on loopback, no dependencies.
//   node scripts/serve.mjs [port] [folder]   (PORT env or 8080, 0 picks a free port; the folder
//   defaults to the repository root). Prints "serving http://127.0.0.1:PORT/" once listening,
//   which the browser tests wait for, and "GET /path" per request when LOG_REQUESTS=1.
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(process.argv[3] ?? fileURLToPath(new URL('..', import.meta.url)));
const port = Number(process.argv[2] ?? process.env.PORT ?? 8080);
const log = process.env.LOG_REQUESTS === '1';
// CSP=0 only for bench/browser, whose import map is an inline script.
const csp = process.env.CSP !== '0';
const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json', '.wasm': 'application/wasm', '.css': 'text/css', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.txt': 'text/plain; charset=utf-8', '.tsv': 'text/tab-separated-values; charset=utf-8',
  '.safetensors': 'application/octet-stream',
};

const server = createServer((req, res) => {
  let path;
  try {
    path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  } catch {
    // A malformed %-escape is the client's error, not a reason to stop serving.
    res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request: malformed URL\n');
    return;
  }
  if (log) console.log(`${req.method} ${path}`);
  let file = normalize(join(root, path));
  if (!file.startsWith(root + sep) && file !== root) { res.writeHead(403).end(); return; }
  try {
    if (statSync(file).isDirectory()) file = join(file, 'index.html');
    const { size } = statSync(file);
    res.writeHead(200, {
      'content-type': types[extname(file)] ?? 'application/octet-stream',
      'content-length': size,
      'cache-control': 'no-cache',
      // The page talks to nothing but its own origin.
      ...(csp && { 'content-security-policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; frame-src 'self'" }),
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).on('error', () => res.destroy()).pipe(res);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}\n`);
  }
});
server.on('error', (e) => {
  console.error(e.code === 'EADDRINUSE' ? `serve: port ${port} is in use (another server?): try PORT=${Number(port) + 1} npm start` : `serve: ${e.message}`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`serving http://127.0.0.1:${server.address().port}/`);
});
