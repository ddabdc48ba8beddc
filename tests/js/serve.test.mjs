// The static server (scripts/serve.mjs): files with their types, no escape from its folder, and
// a malformed request answered, not fatal.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
let proc, base;
before(async () => {
  proc = spawn(process.execPath, [`${root}/scripts/serve.mjs`, '0', root], { stdio: ['ignore', 'pipe', 'inherit'] });
  base = await new Promise((resolve) => proc.stdout.on('data', (d) => { const m = /serving (\S+)/.exec(String(d)); if (m) resolve(m[1]); }));
});
after(() => proc?.kill());

// Raw paths (fetch would normalise them).
const get = (path) => new Promise((resolve, reject) => {
  const u = new URL(base);
  request({ host: u.hostname, port: u.port, path }, (res) => {
    let body = '';
    res.on('data', (d) => { body += d; });
    res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
  }).on('error', reject).end();
});

test('serves files with their types and refuses what is outside its folder', async () => {
  const r = await get('/src/catalogue.json');
  assert.equal(r.status, 200);
  assert.equal(r.type, 'application/json');
  assert.equal(JSON.parse(r.body).criteria[0].id, 'hies');
  assert.equal((await get('/nothing-here')).status, 404);
  for (const path of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc%2fpasswd']) {
    const r = await get(path);
    assert.ok(r.status === 403 || r.status === 404, `${path}: ${r.status}`);
  }
});

test('a malformed escape gets 400 and the server keeps serving', async () => {
  assert.equal((await get('/%E0%A4%A')).status, 400);
  assert.equal((await get('/%')).status, 400);
  assert.equal((await get('/src/manifest.json')).status, 200);
});
