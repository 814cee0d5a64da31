// The page at `/`: its script and style are bundled by scripts/build.mjs (esbuild, xterm.js
// included) and embedded into dist/raptor.mjs, so the server needs no files and no CDN.
import { createHash } from 'node:crypto';

declare const RAPTOR_PAGE: { js: string; css: string } | undefined;

export interface PageAssets {
  js: string;
  css: string;
}

/** What the build embedded; undefined when raptor runs from source (tests pass their own). */
export function bundledPage(): PageAssets | undefined {
  return typeof RAPTOR_PAGE === 'object' ? RAPTOR_PAGE : undefined;
}

/** Content-addressed names, so a new release is never served from a stale cache. */
export function assetNames(page: PageAssets): { js: string; css: string } {
  const tag = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);
  return { js: `/assets/app-${tag(page.js)}.js`, css: `/assets/app-${tag(page.css)}.css` };
}

/** The one HTML document: no inline script or style, so the CSP can say script-src 'self'. */
export function pageHtml(page: PageAssets): string {
  const names = assetNames(page);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>raptor</title>
<link rel="stylesheet" href="${names.css}">
<script type="module" src="${names.js}"></script>
</head>
<body>
<noscript>raptor's page needs JavaScript. The API is at /api/v1; sign in with raptor web login on the host.</noscript>
<div id="app"></div>
</body>
</html>
`;
}

/**
 * The page's policy. Scripts only from this server; xterm.js writes its cell sizes and colours
 * into style elements it creates, so styles may be inline (no script can be).
 */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
