import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
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

interface DocsFile {
  operation_id: string;
  path: string;
  summary: string;
  media_type: string;
  /** A file of swagger-ui-dist, or the text itself. */
  source: { file: string } | { text: string };
  headers: Record<string, string>;
}

const FILES: DocsFile[] = [
  {
    operation_id: 'docsPage',
    path: '/docs',
    summary: 'This API, readable: Swagger UI over /openapi.json',
    media_type: 'text/html',
    source: { text: PAGE },
    headers: { 'Content-Security-Policy': PAGE_SECURITY_POLICY, 'Cache-Control': 'no-cache' },
  },
  {
    operation_id: 'docsInitializer',
    path: '/docs/docs.js',
    summary: 'Starts Swagger UI on /openapi.json',
    media_type: 'text/javascript',
    source: { text: INITIALIZER },
    headers: { 'Cache-Control': ASSET_CACHE_CONTROL },
  },
  {
    operation_id: 'docsSwaggerUiScript',
    path: '/docs/swagger-ui-bundle.js',
    summary: 'Swagger UI (swagger-ui-dist)',
    media_type: 'text/javascript',
    source: { file: 'swagger-ui-bundle.js' },
    headers: { 'Cache-Control': ASSET_CACHE_CONTROL },
  },
  {
    operation_id: 'docsSwaggerUiStyles',
    path: '/docs/swagger-ui.css',
    summary: 'Swagger UI styles (swagger-ui-dist)',
    media_type: 'text/css',
    source: { file: 'swagger-ui.css' },
    headers: { 'Cache-Control': ASSET_CACHE_CONTROL },
  },
];

/** GET /docs and the files it loads, all served by the pod. */
export function docsRoutes(): RouteSpec[] {
  return FILES.map((file) =>
    defineRoute({
      operation_id: file.operation_id,
      method: 'get',
      path: file.path,
      summary: file.summary,
      tag: 'operations',
      auth: 'public',
      responses: { 200: file.summary },
      response_content_type: file.media_type,
      needs_database: false,
      handler: async () => ({
        status: 200,
        body: 'text' in file.source ? file.source.text : createReadStream(path.join(SWAGGER_UI_DIR, file.source.file)),
        headers: { 'Content-Type': `${file.media_type}; charset=utf-8`, ...file.headers },
      }),
    }),
  );
}
