import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { RouteSpec } from '../route.js';
import { staticRoute } from './docs.js';

// The back-office console (src/console): a static page, its styles, and one script that esbuild
// bundles from the console's TypeScript and the typed client (src/client) on the first request,
// then keeps: no build step, no CDN, nothing to run besides the pod.
const CONSOLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../console');

// Only the pod's own script and styles; the console talks only to the pod that served it. No
// inline script or style anywhere, so none is allowed.
const CONSOLE_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The console's script: its modules and the typed client in one ES module for browsers. */
async function bundleConsole(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(CONSOLE_DIR, 'main.ts')],
    tsconfig: path.join(CONSOLE_DIR, 'tsconfig.json'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

/** GET /console and the two files it loads; the page asks for a service token and calls the public API only. */
export function consoleRoutes(): RouteSpec[] {
  // Bundled once per pod, on first use; a failed build is tried again on the next request.
  let script: Promise<string> | undefined;
  const bundled = () => {
    script ??= bundleConsole().catch((error: unknown) => {
      script = undefined;
      throw error;
    });
    return script;
  };
  // The page and the script change together, with the code the pod runs: the browser asks again each time.
  const headers = { 'Content-Security-Policy': CONSOLE_SECURITY_POLICY, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' };
  return [
    staticRoute(
      'consolePage',
      '/console',
      'The back-office console (sign in with a service token)',
      'text/html',
      () => readFile(path.join(CONSOLE_DIR, 'index.html'), 'utf8'),
      headers,
    ),
    staticRoute('consoleScript', '/console/console.js', 'The console, bundled from src/console', 'text/javascript', bundled, headers),
    staticRoute(
      'consoleStyles',
      '/console/console.css',
      'The styles of the console',
      'text/css',
      () => readFile(path.join(CONSOLE_DIR, 'console.css'), 'utf8'),
      headers,
    ),
  ];
}
