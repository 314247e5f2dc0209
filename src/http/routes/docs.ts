import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { defineRoute, type RouteSpec } from '../route.js';

// Swagger UI (swagger-ui-dist, pinned in package.json) ships as static files: the pod serves them
// itself, so /docs needs no CDN and no network at run time.
const SWAGGER_UI_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const OPENAPI_PATH = '/openapi.json';
// The files are those of the pinned version: a day in caches is safe, and an upgrade changes the page anyway.
const ASSET_CACHE_CONTROL = 'public, max-age=86400';
// Only the pod's own scripts run, and they talk only to the pod; Swagger UI styles its elements
// inline and draws icons as data: URLs.
const PAGE_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>creditshop API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="${OPENAPI_PATH}"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/docs.js"></script>
</body>
</html>
`;

// A script of its own rather than inline, so the page's policy can forbid inline scripts. No
// validatorUrl: Swagger UI would otherwise send the document to a public validator.
const INITIALIZER = `window.addEventListener('load', function () {
  var root = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
  });
});
`;

const PAGE_HEADERS = { 'Content-Security-Policy': PAGE_SECURITY_POLICY, 'Cache-Control': 'no-cache' };
const ASSET_HEADERS = { 'Cache-Control': ASSET_CACHE_CONTROL };

/** A file of swagger-ui-dist, streamed from the installed package. */
const swaggerUiFile = (name: string) => () => createReadStream(path.join(SWAGGER_UI_DIR, name));

/** A GET of a page or file the pod serves itself (docs, console): no token, no database. */
export function staticRoute(
  operation_id: string,
  route_path: string,
  summary: string,
  media_type: string,
  body: () => string | Readable | Promise<string>,
  headers: Record<string, string>,
): RouteSpec {
  return defineRoute({
    operation_id,
    method: 'get',
    path: route_path,
    summary,
    tag: 'operations',
    auth: 'public',
    responses: { 200: summary },
    response_content_type: media_type,
    needs_database: false,
    handler: async () => ({ status: 200, body: await body(), headers: { 'Content-Type': `${media_type}; charset=utf-8`, ...headers } }),
  });
}

/** GET /docs and the files it loads, all served by the pod. */
export function docsRoutes(): RouteSpec[] {
  const summary = 'Swagger UI (swagger-ui-dist)';
  return [
    staticRoute('docsPage', '/docs', 'This API, readable: Swagger UI over /openapi.json', 'text/html', () => PAGE, PAGE_HEADERS),
    staticRoute(
      'docsInitializer',
      '/docs/docs.js',
      'Starts Swagger UI on /openapi.json',
      'text/javascript',
      () => INITIALIZER,
      ASSET_HEADERS,
    ),
    staticRoute(
      'docsSwaggerUiScript',
      '/docs/swagger-ui-bundle.js',
      summary,
      'text/javascript',
      swaggerUiFile('swagger-ui-bundle.js'),
      ASSET_HEADERS,
    ),
    staticRoute(
      'docsSwaggerUiStyles',
      '/docs/swagger-ui.css',
      `${summary}: styles`,
      'text/css',
      swaggerUiFile('swagger-ui.css'),
      ASSET_HEADERS,
    ),
  ];
}
