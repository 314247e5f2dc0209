import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startCluster, type TestCluster } from '../support/cluster.js';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(() => cluster.stop());

/** Every endpoint of SPEC.md §6, as "METHOD path" with OpenAPI path templates. */
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
        for (const [status, description] of Object.entries(operation.responses as Record<string, any>)) {
          if (Number(status) >= 400)
            expect(Object.keys(description.content), `${method} ${path} ${status}`).toEqual(['application/problem+json']);
        }
      }
    }
  });
});
