import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/test-app.js';

/** The `src` and `href` attributes of a page, in order. */
const references = (html: string): string[] => [...html.matchAll(/\s(?:src|href)="([^"]+)"/g)].map(([, url]) => url!);

describe('Browsable API docs (GET /docs)', () => {
  let t: TestApp;
  const LIMIT = 3;

  beforeAll(async () => {
    // A tiny general rate limit: the page and its files must stay reachable past it.
    t = await createTestApp({ RATE_LIMIT_PER_MINUTE: String(LIMIT) });
  });
  afterAll(async () => t?.close());

  const get = (path: string) => fetch(new URL(path, t.baseUrl));

  it('answers an HTML page that loads Swagger UI from this server, on the served document', async () => {
    const res = await get('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html; charset=utf-8/);
    const html = await res.text();
    expect(html).toMatch(/^<!doctype html>/i);
    // The page names the document it shows; relative to the page, it is GET /api/openapi.json.
    const specUrl = /data-spec-url="([^"]+)"/.exec(html)?.[1];
    expect(new URL(specUrl!, res.url).pathname).toBe('/api/openapi.json');
    const doc = await get(new URL(specUrl!, res.url).pathname);
    expect(doc.status).toBe(200);
    expect(((await doc.json()) as { openapi: string }).openapi).toMatch(/^3\./);
    // Closed networks: every script, style and icon comes from this server (no CDN).
    const urls = references(html);
    expect(urls).toEqual(expect.arrayContaining(['docs/swagger-ui.css', 'docs/swagger-ui-bundle.js', 'docs/docs-init.js']));
    for (const url of urls) expect(new URL(url, res.url).origin, url).toBe(new URL(t.baseUrl).origin);
    // Scripts from this origin only, and no inline ones.
    const csp = res.headers.get('content-security-policy');
    expect(csp).toContain("script-src 'self'");
    // "Try it out" may call the document's servers: this origin and PUBLIC_URL's.
    expect(csp).toContain(`connect-src 'self' ${t.config.publicUrl}`);
    expect(html).not.toMatch(/<script>(?!<\/script>)/);
  });

  it('serves every file the page references (200, with its type)', async () => {
    const page = await get('/docs');
    const html = await page.text();
    const types: Record<string, RegExp> = { css: /^text\/css/, js: /^application\/javascript/, png: /^image\/png/ };
    for (const url of references(html)) {
      const res = await get(new URL(url, page.url).pathname);
      expect(res.status, url).toBe(200);
      expect(res.headers.get('content-type'), url).toMatch(types[url.split('.').pop()!]!);
      expect((await res.arrayBuffer()).byteLength, url).toBeGreaterThan(100);
    }
    const init = await (await get('/docs/docs-init.js')).text();
    expect(init).toContain('SwaggerUIBundle(');
    expect(init).toContain('data-spec-url');
    // The validator badge would call validator.swagger.io: switched off.
    expect(init).toContain('validatorUrl: null');
  });

  it('serves nothing else from the Swagger UI directory', async () => {
    for (const path of ['/docs/package.json', '/docs/index.html', '/docs/swagger-ui-bundle.js.map', '/docs/..%2Fpackage.json']) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      await res.body?.cancel();
    }
  });

  it('is not rate limited: past the limit the API answers 429, the docs still 200', async () => {
    const api = [];
    for (let i = 0; i < LIMIT + 2; i++) api.push((await get('/api/auth/status')).status);
    expect(api).toContain(429);
    for (let i = 0; i < LIMIT + 2; i++) {
      for (const path of ['/docs', '/docs/swagger-ui.css', '/docs/docs-init.js', '/api/openapi.json']) {
        const res = await get(path);
        expect(res.status, `${path} #${i + 1}`).toBe(200);
        await res.arrayBuffer();
      }
    }
  });
});
