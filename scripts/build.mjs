// Bundles the CLI into one file so `raptor --version` loads one module, not hundreds.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { readFileSync } from 'node:fs';

rmSync(new URL('../dist/', import.meta.url), { recursive: true, force: true });
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
await build({
  entryPoints: ['src/cli/main.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outdir: 'dist',
  entryNames: 'raptor',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  splitting: true,
  banner: { js: '#!/usr/bin/env node\nimport { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);' },
  define: { RAPTOR_VERSION: JSON.stringify(pkg.version) },
  minify: true,
  sourcemap: 'linked',
  logLevel: 'warning',
});
