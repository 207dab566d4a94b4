import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * What a caller (or the proxy in front) may choose as the request id: short, and only characters
 * that cannot break a log line, a header or a log query. Anything else is replaced, never cleaned
 * up: a half-kept hostile value would still be the caller's choice.
 */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The header's value when it is a sane request id, else null (absent, repeated, too long, odd characters). */
export function sanitizeRequestId(value: string | string[] | undefined): string | null {
  return typeof value === 'string' && SANE_REQUEST_ID.test(value) ? value : null;
}

const ids = new WeakMap<IncomingMessage, string>();

/**
 * The request's id, decided once: Fastify, pino-http and the response header each ask, and must
 * agree. Kept beside the request rather than on it, so nothing else can overwrite it.
 */
export function requestIdOf(request: IncomingMessage): string {
  let id = ids.get(request);
  if (id === undefined) {
    id = sanitizeRequestId(request.headers[REQUEST_ID_HEADER]) ?? randomUUID();
    ids.set(request, id);
  }
  return id;
}
