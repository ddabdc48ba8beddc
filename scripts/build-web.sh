#!/usr/bin/env bash
# Builds the static site:  scripts/build-web.sh [dist|release] [OUT]
#   the wasm engine (scripts/build-wasm.sh), the page (Vite: relative paths, so the folder works
#   from any sub-path), and the built-in models (the base checkpoint in fp32 and in int8, written
#   by scripts/quantize-default.mjs; the fine-tuned model's adapter, the probe), and the data
#   (src/manifest.json) copied
#   beside it at the same relative paths (never committed). OUT: dist/ (default) for the shipped
#   site; the tests build theirs into dist-test/ so they never replace it.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-dist}
out=${2:-dist}
bash scripts/build-wasm.sh "$profile"
node scripts/quantize-default.mjs
node_modules/.bin/vite build --logLevel warn --outDir "$out"
OUT="$out" node --input-type=module -e '
  import { cpSync, existsSync, mkdirSync, readFileSync } from "node:fs";
  import { dirname } from "node:path";
  const m = JSON.parse(readFileSync("src/manifest.json", "utf8"));
  const files = [...Object.entries(m.checkpoint_files).map(([role, f]) => [role, `${m.model.dir}/${f}`]), ["weights", `${m.model.dir}/${m.model.int8_weights}`],
    ...Object.values(m.finetuned.files).map((f) => ["adapter", `${m.finetuned.dir}/${f}`]),
    ["classifier", m.classifier.weights], ["classifier", m.classifier.meta], ["data", m.data.calibration], ["data", m.data.evaluation], ["data", m.data.validation]];
  for (const [role, f] of files) {
    if (!existsSync(f)) {
      if (m.optional_checkpoint_files.includes(role)) continue;
      console.error(`build-web: ${f} is missing: run \`${m.setup}\``);
      process.exit(1);
    }
    const to = `${process.env.OUT}/${f}`;
    mkdirSync(dirname(to), { recursive: true });
    cpSync(f, to);
  }'
echo "build-web: $out/ ($(du -sh "$out" | cut -f1))"
