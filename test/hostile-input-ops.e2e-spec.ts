import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/test-app.js';

/**
 * The operator's routes (probes, metrics, the docs page and its document) take no input, but they
 * are on the public port: hostile queries, bodies and content types get a 4xx or are ignored,
 * never a 5xx, and the routes keep answering afterwards.
 */
const OPS_ROUTES = ['/health', '/health/live', '/health/ready', '/metrics', '/docs', '/docs/docs-init.js', '/api/openapi.json'];

const HOSTILE_QUERIES: Array<[string, string]> = [
  ['a NUL byte', 'x=%00'],
  ['a lone surrogate', 'x=%ED%A0%80'],
  ['a prototype key', '__proto__=1'],
  ['a huge value', `x=${'a'.repeat(20_000)}`],
  ['broken percent-encoding', 'x=%E0%A4%A'],
];

describe('hostile input on the operational routes', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t?.close());

  const send = (path: string, init: RequestInit = {}) => fetch(new URL(path, t.baseUrl), init);

  for (const path of OPS_ROUTES) {
    for (const [label, query] of HOSTILE_QUERIES) {
      it(`GET ${path} with ${label} in the query: answered, never a 5xx`, async () => {
        const res = await send(`${path}?${query}`);
        await res.arrayBuffer();
        expect(res.status, `${res.status}`).toBeLessThan(500);
        // Ignoring a query they do not read (200) or refusing it (400; 431 from Node's HTTP parser
        // for a request line past its 16 KiB) are both fine.
        expect([200, 400, 431]).toContain(res.status);
      });
    }

    for (const contentType of ['text/plain', 'application/json', 'application/octet-stream']) {
      it(`POST ${path} with ${contentType}: 4xx, never a 5xx`, async () => {
        const res = await send(path, { method: 'POST', headers: { 'content-type': contentType }, body: '{"__proto__":{"x":1}}' });
        await res.arrayBuffer();
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      });
    }
  }

  it('every route still answers 200 afterwards', async () => {
    for (const path of OPS_ROUTES) {
      const res = await send(path);
      await res.arrayBuffer();
      expect(res.status, path).toBe(200);
    }
  });
});
