import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { markPublicOperations } from './openapi-document.js';

/** Where the document is served; the page loads it from there. */
export const OPENAPI_JSON_PATH = '/api/openapi.json';
/** The browsable page. */
export const DOCS_PATH = '/docs';

/**
 * Swagger UI's files, from the swagger-ui-dist that @nestjs/swagger depends on (resolved from
 * there, so it is found however npm laid node_modules out). Served from this process: the service
 * runs in closed networks, where a CDN is out of reach.
 */
const swaggerUiDir = (): string => {
  const fromSwagger = createRequire(createRequire(import.meta.url).resolve('@nestjs/swagger'));
  return (fromSwagger('swagger-ui-dist/absolute-path.js') as () => string)();
};

/** The only files served under /docs/ (no directory listing, no path from the request reaches the file system). */
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

/** Paths are relative to the page (`/docs` → `/`), so the page also works behind a proxy that adds a prefix. */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Two-factor authentication service: API</title>
<link rel="icon" type="image/png" href="docs/favicon-32x32.png" sizes="32x32">
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-spec-url="${OPENAPI_JSON_PATH.slice(1)}"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/docs-init.js"></script>
</body>
</html>
`;

/**
 * Starts Swagger UI on the document the page names. No validator badge (it would call
 * validator.swagger.io), no authorisation kept in localStorage (tokens entered stay in the tab).
 */
const INIT_SCRIPT = `window.addEventListener('load', function () {
  var root = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({
    url: root.getAttribute('data-spec-url'),
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: false,
    displayOperationId: false,
  });
});
`;

/**
 * Scripts only from here (Swagger UI sets element styles and inline SVG images); requests only to
 * this origin and the document's servers ("try it out" calls the API the document describes).
 */
const pageCsp = (document: OpenAPIObject): string => {
  const servers = (document.servers ?? []).flatMap(({ url }) => (/^https?:\/\//i.test(url) ? [new URL(url).origin] : []));
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    ["connect-src 'self'", ...new Set(servers)].join(' '),
    "form-action 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
};

const sendStatic = (
  reply: FastifyReply,
  type: string,
  body: string | Buffer,
  maxAgeSeconds: number,
  headers: Record<string, string> = {},
) =>
  reply
    .type(type)
    .header('cache-control', maxAgeSeconds > 0 ? `public, max-age=${maxAgeSeconds}` : 'no-cache')
    .header('x-content-type-options', 'nosniff')
    .headers(headers)
    .send(body);

/**
 * GET /api/openapi.json and the page at GET /docs with its assets. Plain Fastify routes, outside
 * Nest's guards: the rate limiter never turns documentation away, and no body parser is involved.
 */
export function registerApiDocs(fastify: FastifyInstance, document: OpenAPIObject): void {
  // Serialised on first request: whatever is added to the document while the app starts is in it.
  let json: string | undefined;
  fastify.get(OPENAPI_JSON_PATH, (_request, reply) => {
    json ??= JSON.stringify(markPublicOperations(document));
    void reply.type('application/json; charset=utf-8').send(json);
  });

  const csp = pageCsp(document);
  fastify.get(DOCS_PATH, (_request, reply) => {
    void sendStatic(reply, 'text/html; charset=utf-8', PAGE, 0, {
      'content-security-policy': csp,
      'referrer-policy': 'no-referrer',
    });
  });
  fastify.get(`${DOCS_PATH}/docs-init.js`, (_request, reply) => {
    void sendStatic(reply, 'application/javascript; charset=utf-8', INIT_SCRIPT, 0);
  });

  // Looked up on the first asset request: the service starts (and serves its API) even without them.
  let dir: string | undefined;
  const cache = new Map<string, Promise<Buffer>>();
  for (const [file, type] of Object.entries(ASSETS)) {
    fastify.get(`${DOCS_PATH}/${file}`, async (_request, reply) => {
      let content = cache.get(file);
      if (!content) {
        // A failed read is not cached: the next request tries again.
        content = Promise.resolve()
          .then(() => readFile(join((dir ??= swaggerUiDir()), file)))
          .catch((error: unknown) => {
            cache.delete(file);
            throw error;
          });
        cache.set(file, content);
      }
      // The files change only with the installed swagger-ui-dist: a day of caching is safe.
      return sendStatic(reply, type, await content, 86_400);
    });
  }
}
