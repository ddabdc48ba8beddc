// The page: index.html at the repository root, its modules in www/ (Vite root = the repository
// root, so `npm run dev` serves the default model and data straight from assets/ and
// classifiers/). `vite build` writes dist/ with relative paths, so it works from any sub-path;
// scripts/build-web.sh copies the default assets beside it at the same relative paths.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { defineConfig } from 'vite';

const manifest = JSON.parse(readFileSync('src/manifest.json', 'utf8'));
const files = manifest.checkpoint_files;
const assetFiles = [
  ...Object.values(files).map((f) => `${manifest.model.dir}/${f}`), `${manifest.model.dir}/${manifest.model.int8_weights}`,
  ...Object.values(manifest.finetuned.files).map((f) => `${manifest.finetuned.dir}/${f}`),
  manifest.classifier.weights, manifest.classifier.meta, manifest.data.calibration, manifest.data.evaluation, manifest.data.validation,
];

// The Cache API name carries a hash of the default assets: new files, new cache, old one deleted.
const hash = createHash('sha256');
for (const f of assetFiles) if (existsSync(f)) hash.update(readFileSync(f));

export default defineConfig({
  root: '.',
  base: './',
  publicDir: false,
  define: { __ASSET_VERSION__: JSON.stringify(hash.digest('hex').slice(0, 12)) },
  worker: { format: 'es' },
  // Only the page: tests/ and bench/ hold pages of their own.
  optimizeDeps: { entries: ['index.html'] },
  server: { watch: { ignored: ['**/assets/**', '**/dist/**', '**/dist-test/**', '**/bench/**', '**/tests/**', '**/artifacts/**'] } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 2000 },
});
