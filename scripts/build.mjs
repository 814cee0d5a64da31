// Bundles the CLI into one file so `raptor --version` loads one module, not hundreds.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { readFileSync } from 'node:fs';

rmSync(new URL('../dist/', import.meta.url), { recursive: true, force: true });
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

// The web page first (its TypeScript, xterm.js and the CSS), kept in memory and embedded below.
const page = await build({
  entryPoints: ['src/web/page/main.ts'],
  bundle: true,
  platform: 'browser',
  target: ['es2022'],
  format: 'esm',
  outdir: 'page',
  write: false,
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
const pageFile = (ext) => {
  const f = page.outputFiles.find((o) => o.path.endsWith(ext));
  if (!f) throw new Error(`page build made no ${ext}`);
  return f.text;
};
const pageAssets = { js: pageFile('.js'), css: pageFile('.css') };

// ws tries the optional native addons bufferutil and utf-8-validate; they are never bundled nor looked up
const noNativeAddons = {
  name: 'no-native-addons',
  setup(b) {
    b.onResolve({ filter: /^(bufferutil|utf-8-validate)$/ }, (a) => ({ path: a.path, namespace: 'no-native-addon' }));
    b.onLoad({ filter: /.*/, namespace: 'no-native-addon' }, () => ({ contents: 'throw new Error("not bundled: raptor uses no native addons")', loader: 'js' }));
  },
};
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
  define: { RAPTOR_VERSION: JSON.stringify(pkg.version), RAPTOR_PAGE: JSON.stringify(pageAssets) },
  plugins: [noNativeAddons],
  minify: true,
  sourcemap: 'linked',
  logLevel: 'warning',
});
