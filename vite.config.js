// Builds the page in web/ into dist/ with relative paths, so it works from any sub-path.
// The model and data are not bundled: scripts/build-web.sh copies them next to the page.
import { createHash } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { defineConfig } from 'vite';

// The Cache API name carries a hash of the default assets: new files, new cache, old one deleted.
const assetFiles = [
  'assets/models/all-MiniLM-L6-v2/config.json', 'assets/models/all-MiniLM-L6-v2/tokenizer.json',
  'assets/models/all-MiniLM-L6-v2/model.safetensors', 'assets/data/rotten-tomatoes/train.tsv',
  'assets/data/rotten-tomatoes/dev.tsv', 'heads/minilm-rotten-tomatoes.safetensors', 'heads/minilm-rotten-tomatoes.json',
];
const hash = createHash('sha256');
for (const f of assetFiles) if (existsSync(f)) hash.update(readFileSync(f));

export default defineConfig({
  root: 'web',
  base: './',
  publicDir: 'public',
  define: { __ASSET_VERSION__: JSON.stringify(hash.digest('hex').slice(0, 12)) },
  worker: { format: 'es' },
  build: { outDir: '../dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 2000 },
});
