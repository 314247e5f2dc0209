import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startCluster, type TestCluster } from '../support/cluster.js';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(() => cluster.stop());

/** Every endpoint of SPEC.md §6 and §10, as "METHOD path" with OpenAPI path templates. */
const SPEC_ENDPOINTS = [
  'post /v1/accounts',
  'get /v1/accounts/{id}',
  'get /v1/accounts/{id}/wallets',
  'get /v1/accounts/{id}/transactions',
  'post /v1/accounts/{id}/credits',
  'post /v1/accounts/{id}/debits',
  'post /v1/transactions/{id}/refunds',
  'post /v1/holds',
  'get /v1/holds/{id}',
  'post /v1/holds/{id}/capture',
  'post /v1/holds/{id}/void',
  'post /v1/transfers',
  'get /v1/items',
  'get /v1/items/{id}',
  'put /v1/items/{id}',
  'post /v1/orders',
  'get /v1/orders/{id}',
  'post /v1/orders/{id}/complete',
  'post /v1/orders/{id}/cancel',
  'get /v1/accounts/{id}/orders',
  'get /v1/accounts/{id}/entitlements',
  'post /v1/orders/{id}/refunds',
  'post /v1/topups',
  'get /v1/topups/{id}',
  'post /v1/psp/events',
  'post /v1/admin/reconcile',
  'put /v1/sellers/{id}',
  'get /v1/sellers/{id}',
  'get /v1/sellers',
  'post /v1/purchase-requests',
  'get /v1/purchase-requests/{id}',
  'get /v1/events',
  'get /v1/events/{id}',
  'post /v1/events/{id}/redeliver',
  'post /v1/webhook-endpoints',
  'get /v1/webhook-endpoints',
  'get /v1/webhook-endpoints/{id}',
  'patch /v1/webhook-endpoints/{id}',
  'delete /v1/webhook-endpoints/{id}',
  'post /v1/webhook-endpoints/{id}/rotate-secret',
  'get /v1/webhook-endpoints/{id}/deliveries',
  'post /v1/withdrawals',
  'get /v1/withdrawals/{id}',
  'get /v1/accounts/{id}/withdrawals',
  'post /v1/payouts/events',
  'post /v1/merchant-payments',
  'put /v1/accounts/{id}/kyc',
  'put /v1/accounts/{id}/limits',
  'get /v1/accounts/{id}/limits',
  'post /v1/accounts/{id}/freeze',
  'post /v1/accounts/{id}/unfreeze',
  'post /v1/accounts/{id}/close',
  'get /v1/accounts/{id}/statement',
  'get /v1/admin/exports/transactions',
  'get /v1/admin/reports/large-transactions',
  'get /health',
  'get /ready',
  'get /metrics',
  'get /openapi.json',
];

describe('/openapi.json', () => {
  it('is OpenAPI 3.1 and documents every endpoint of the spec', async () => {
    const response = await request(cluster.pods[0]!.url, 'GET', '/openapi.json');
    expect(response.status).toBe(200);
    expect(response.body.openapi).toBe('3.1.0');
    const documented = Object.entries(response.body.paths as Record<string, Record<string, unknown>>).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method} ${path}`),
    );
    const missing = SPEC_ENDPOINTS.filter((endpoint) => !documented.includes(endpoint));
    expect(missing).toEqual([]);
  });

  it('documents only routes that the app really serves, each with its error responses as problem+json', async () => {
    const base = cluster.pods[0]!.url;
    const document = (await request(base, 'GET', '/openapi.json')).body;
    for (const [path, operations] of Object.entries(document.paths as Record<string, Record<string, any>>)) {
      for (const [method, operation] of Object.entries(operations)) {
        const concrete = path.replace(/\{id\}/g, '00000000-0000-4000-8000-000000000000');
        const answer = await request(base, method.toUpperCase(), concrete, method === 'get' ? undefined : {});
        expect(answer.body?.detail ?? '', `${method} ${path}`).not.toMatch(/^no route for/);
        for (const [status, response] of Object.entries(operation.responses as Record<string, any>)) {
          // /ready answers its own JSON body when it is not ready; 431 is a shared problem+json answer.
          if (Number(status) < 400 || `${path} ${status}` === '/ready 503' || response.$ref) continue;
          expect(Object.keys(response.content), `${method} ${path} ${status}`).toEqual(['application/problem+json']);
        }
      }
    }
  });

  it('declares the body of every success: a named view schema for JSON, text otherwise', async () => {
    const document = (await request(cluster.pods[0]!.url, 'GET', '/openapi.json')).body;
    const undeclared: string[] = [];
    for (const [path, operations] of Object.entries(document.paths as Record<string, Record<string, any>>)) {
      for (const [method, operation] of Object.entries(operations)) {
        for (const [status, response] of Object.entries(operation.responses as Record<string, any>)) {
          if (!status.startsWith('2')) continue;
          for (const [media_type, { schema }] of Object.entries(response.content as Record<string, any>)) {
            const declared =
              media_type === 'application/json' ? /^#\/components\/schemas\/\w+$/.test(schema.$ref ?? '') : schema.type === 'string';
            if (!declared) undeclared.push(`${method} ${path} ${status} ${media_type}: ${JSON.stringify(schema)}`);
          }
        }
      }
    }
    expect(undeclared).toEqual([]);
    // Views are shared, not copied: the transaction view is one component used by every route that answers one.
    expect(document.components.schemas.Transaction.properties.entries.type).toBe('array');
    expect(document.paths['/v1/transactions/{id}'].get.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/Transaction',
    });
  });

  it('documents the errors every route of its kind answers, with the codes of each status and the headers', async () => {
    const document = (await request(cluster.pods[0]!.url, 'GET', '/openapi.json')).body;
    const debit = document.paths['/v1/accounts/{id}/debits'].post;
    const codes = (status: number) => debit.responses[status].content['application/problem+json'].schema.allOf[1].properties.code.enum;
    expect(Object.keys(debit.responses)).toEqual(['201', '400', '401', '403', '404', '409', '413', '422', '429', '431', '500', '503']);
    expect(codes(400)).toEqual(['validation_error', 'idempotency_key_required']);
    expect(codes(409)).toEqual(['insufficient_funds', 'invalid_state', 'account_frozen', 'account_closed', 'idempotency_key_in_flight']);
    expect(codes(422)).toEqual(['currency_mismatch', 'limit_exceeded', 'idempotency_key_reused']);
    expect(Object.keys(debit.responses['503'].headers)).toEqual(['X-Region', 'X-Request-Id', 'Idempotent-Replayed', 'Retry-After']);
    expect(debit.parameters).toContainEqual({ $ref: '#/components/parameters/Idempotency-Key' });
    expect(document.components.schemas.Problem.properties.errors.type).toBe('array');
    const health = document.paths['/health'].get;
    expect(Object.keys(health.responses)).toEqual(['200', '400', '431', '500']);
    expect(Object.keys(document.components.responses)).toEqual(['NoRoute', 'MethodNotAllowed', 'HeadersTooLarge', 'InternalError']);
  });
});

describe('/docs', () => {
  const swagger_ui_dir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

  it('is a page of the pod that renders /openapi.json with files the pod serves itself', async () => {
    const base = cluster.pods[1]!.url;
    const page = await request(base, 'GET', '/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.body).toContain('data-openapi-url="/openapi.json"');
    const referenced = [...(page.body as string).matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(referenced.sort()).toEqual(['/docs/docs.js', '/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css']);
    const types: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
    for (const file of referenced) {
      const asset = await request(base, 'GET', file);
      expect(asset.status, file).toBe(200);
      expect(asset.headers.get('content-type'), file).toBe(types[path.extname(file)]);
      if (file !== '/docs/docs.js') expect(asset.body).toBe(await readFile(path.join(swagger_ui_dir, path.basename(file)), 'utf8'));
    }
    const initializer = (await request(base, 'GET', '/docs/docs.js')).body as string;
    expect(initializer).toContain('SwaggerUIBundle(');
    expect(initializer).toContain('validatorUrl: null');
  });
});
