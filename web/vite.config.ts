import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The dashboard: a React single-page app served by the API at /app (src/http/app.route.ts).
// `bash scripts/web.sh` builds it into dist/web/; no asset comes from a CDN.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/app/',
  // React's automatic JSX runtime through Vite's own transform: no plugin needed
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    // no inline scripts or styles: the page's Content-Security-Policy allows 'self' only
    assetsInlineLimit: 0,
    sourcemap: false,
  },
});
