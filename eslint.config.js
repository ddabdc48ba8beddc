// The JS linter for the page, its tests, the build scripts and the benchmarks: `npx eslint .`
// (part of `npm test`).
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['dist/', 'dist-test/', 'www/pkg/', 'www/pkg-gpu/', 'www/pkg-relaxed/', 'node_modules/', 'bench/node_modules/', 'bench/.cache/', 'artifacts/', 'assets/', '.venv/'] },
  js.configs.recommended,
  {
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
      eqeqeq: ['error', 'smart'],
      'prefer-const': 'error',
      'no-var': 'error',
    },
  },
  { files: ['www/**/*.js', 'bench/browser/**/*.js'], languageOptions: { globals: { ...globals.browser, __ASSET_VERSION__: 'readonly' } } },
  { files: ['www/worker.js', 'www/assets.js'], languageOptions: { globals: { ...globals.worker, __ASSET_VERSION__: 'readonly' } } },
  // Node scripts; tests and benchmarks also hand function bodies to the page (page.evaluate).
  { files: ['*.config.js', 'scripts/**/*.mjs'], languageOptions: { globals: globals.node } },
  { files: ['tests/**/*.mjs', 'bench/**/*.mjs'], languageOptions: { globals: { ...globals.node, ...globals.browser } } },
];
