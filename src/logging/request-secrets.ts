import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import type { DestinationStream } from 'pino';
import { sha256Hex } from '../common/random.js';
import { isSecretKey, REDACTED } from './log-redaction.js';

/**
 * The credentials the request in progress carries (its password, codes, tokens, cookies), so that
 * none of them is written while it is handled, wherever it turns up: a library's error message
 * quoting it in a way no pattern foresees, a field name no rule knows. Shorter values are not
 * credentials of this service (passwords have 8 characters at least, codes 6) and would match
 * too much.
 */
const MIN_SECRET_LENGTH = 6;

/** What the log knows of the request being handled; its credentials are gathered at the first line written. */
interface RequestLogContext {
  readonly reqId: string;
  readonly request: RequestLike;
  /** Longest first, so that a secret containing another is replaced whole. */
  secrets?: readonly string[];
  /** Whether `secrets` were gathered after the body was read (until then, a later line gathers again). */
  secretsIncludeBody?: boolean;
}

const storage = new AsyncLocalStorage<RequestLogContext | undefined>();

interface RequestLike {
  headers: IncomingHttpHeaders;
  body?: unknown;
  query?: unknown;
}

function addSecret(secrets: Set<string>, value: string): void {
  for (const variant of [value, value.replace(/[\s-]/g, '')]) {
    if (variant.length < MIN_SECRET_LENGTH) continue;
    secrets.add(variant);
    // Passwords and tokens are hashed before they are stored or compared; the digest is as secret.
    secrets.add(sha256Hex(variant));
  }
}

function addLeaves(secrets: Set<string>, value: unknown, depth = 0): void {
  if (typeof value === 'string') addSecret(secrets, value);
  else if (typeof value === 'number' || typeof value === 'bigint') addSecret(secrets, String(value));
  else if (value && typeof value === 'object' && depth < 8)
    for (const item of Object.values(value)) addLeaves(secrets, item, depth + 1);
}

/** Surface 2 takes an emailed code as `{"email": "123456"}`. */
const isEmailedCode = (key: string, value: unknown) =>
  key === 'email' && typeof value === 'string' && /^\d{3}[\s-]?\d{3}$/.test(value);

function addFields(secrets: Set<string>, value: unknown, depth = 0): void {
  if (!value || typeof value !== 'object' || depth >= 8) return;
  for (const [key, item] of Object.entries(value)) {
    if (isSecretKey(key) || isEmailedCode(key, item)) addLeaves(secrets, item);
    else addFields(secrets, item, depth + 1);
  }
}

/** The credentials of a request: secret headers (each cookie, the token after `Bearer`), secret fields of body and query. */
export function secretsOf(request: RequestLike): Set<string> {
  const secrets = new Set<string>();
  for (const [name, value] of Object.entries(request.headers)) {
    if (!isSecretKey(name) || value === undefined) continue;
    for (const header of Array.isArray(value) ? value : [value]) {
      addSecret(secrets, header);
      const [, credentials] = /^\s*\S+\s+(\S+)\s*$/.exec(header) ?? [];
      if (credentials) addSecret(secrets, credentials);
      if (name === 'cookie') for (const pair of header.split(';')) addSecret(secrets, pair.slice(pair.indexOf('=') + 1).trim());
    }
  }
  addFields(secrets, request.body);
  addFields(secrets, request.query);
  return secrets;
}

/**
 * Runs the rest of the request's handling (`next`) with the request known to the log: every line
 * written meanwhile carries its id and none of its credentials. Those are gathered only when a line
 * is written: most requests write none but their access line (written after, with its own fields).
 */
export const withRequestLogContext = (reqId: string, request: RequestLike, next: () => void): void =>
  storage.run({ reqId, request }, next);

/**
 * Runs `write` outside any request's context. The access line is written when the response is
 * finished, which happens inside the request's context; it names the request with its own fields
 * and holds none of its credentials, so gathering them would be work for nothing. An empty context
 * rather than `exit()`: exit switches the storage off and on again, and with it Node's promise
 * hooks, on every call.
 */
export const outsideRequestLogContext = <T>(write: () => T): T => storage.run(undefined, write);

/** The id of the request being handled, if any (pino's mixin puts it on every line). */
export const currentRequestId = (): string | undefined => storage.getStore()?.reqId;

function secretsOfContext(context: RequestLogContext | undefined): readonly string[] | undefined {
  if (!context) return undefined;
  const bodyRead = context.request.body !== undefined;
  if (context.secrets && (context.secretsIncludeBody || !bodyRead)) return context.secrets;
  context.secrets = [...secretsOf(context.request)].sort((a, b) => b.length - a.length);
  context.secretsIncludeBody = bodyRead;
  return context.secrets;
}

/**
 * A log line without the credentials of the request it was written for. Lines are JSON: a value
 * shows there as JSON string text, and is replaced in that form. Should the replacement break the
 * line (a credential that happens to read like a piece of JSON), the line is withheld: the log
 * stays one JSON object per line, and the credential stays out of it.
 */
export function withoutRequestSecrets(
  line: string,
  secrets: readonly string[] | undefined = secretsOfContext(storage.getStore()),
): string {
  if (!secrets || secrets.length === 0) return line;
  let result = line;
  for (const secret of secrets) {
    const asJson = JSON.stringify(secret).slice(1, -1);
    if (result.includes(asJson)) result = result.split(asJson).join(REDACTED);
  }
  if (result === line) return line;
  try {
    JSON.parse(result);
    return result;
  } catch {
    const { level, time, reqId } = JSON.parse(line) as Record<string, unknown>;
    return `${JSON.stringify({ level, time, reqId, msg: 'A log line was withheld: it held a credential of the request' })}\n`;
  }
}

/** `destination`, with every line written while a request is handled cleaned of that request's credentials. */
export const requestSecretsFilter = (destination: DestinationStream): DestinationStream => ({
  write: (line: string) => destination.write(withoutRequestSecrets(line)),
});
