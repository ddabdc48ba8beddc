// Fetching model and data files with byte progress, kept in the Cache API under a versioned
// name so a second visit needs no network. Used by the worker.
export const CACHE = `hies-lab-${__ASSET_VERSION__}`;

/** Deletes the caches of older versions of the page's assets. */
export async function dropOldCaches() {
  if (!globalThis.caches) return;
  for (const name of await caches.keys()) {
    if (name.startsWith('hies-lab-') && name !== CACHE) await caches.delete(name);
  }
}

async function openCache() {
  try { return globalThis.caches ? await caches.open(CACHE) : null; } catch { return null; } // e.g. opaque origins
}

/** Bytes of `url`, from the cache when there; `onProgress({ file, loaded, total, cached })`. */
export async function fetchBytes(url, onProgress, { optional = false } = {}) {
  const file = decodeURIComponent(new URL(url).pathname.split('/').slice(-2).join('/'));
  const cache = await openCache();
  const hit = cache && (await cache.match(url));
  if (hit) {
    const bytes = new Uint8Array(await hit.arrayBuffer());
    onProgress?.({ file, loaded: bytes.length, total: bytes.length, cached: true });
    return bytes;
  }
  const res = await fetch(url);
  if (!res.ok) {
    if (optional) return undefined;
    throw new Error(`cannot download ${file}: HTTP ${res.status}`);
  }
  const total = Number(res.headers.get('content-length')) || 0;
  const reader = res.body.getReader();
  const parts = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.length;
    onProgress?.({ file, loaded, total, cached: false });
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const p of parts) { bytes.set(p, at); at += p.length; }
  if (cache) {
    try {
      await cache.put(url, new Response(bytes, { headers: { 'content-type': res.headers.get('content-type') ?? 'application/octet-stream' } }));
    } catch { /* quota: it still works, just not cached */ }
  }
  return bytes;
}
