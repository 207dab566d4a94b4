import { EventEmitter } from 'node:events';
import { IncomingMessage, ServerResponse } from 'node:http';

export const REDACTED = '[Redacted]';

/**
 * Names of fields whose value is a credential or proof of one, in any case and anywhere in the
 * name (`newPassword`, `x-2fa-code`, `refresh_token`, `set-cookie`, `challengeId`, `pass`, …).
 * pino's own `redact` takes exact paths only, so this check runs on every key instead. `code`
 * catches harmless names too (`statusCode`); the access line avoids such names rather than
 * weakening the rule.
 */
const SECRET_KEY =
  /token|passw(?:or)?d|passphrase|secret|code|cookie|authori[sz]ation|totp|resume|challenge|api[-_]?key|private[-_]?key|signature|credential|hash|^pass$|^otp$/i;

/** Field names repeat (the same few dozen in every line): each is tested once. Bounded, as names may come from input. */
const secretKeyVerdicts = new Map<string, boolean>();
const MAX_REMEMBERED_KEYS = 1000;

export const isSecretKey = (key: string): boolean => {
  let secret = secretKeyVerdicts.get(key);
  if (secret === undefined) {
    secret = SECRET_KEY.test(key);
    if (secretKeyVerdicts.size < MAX_REMEMBERED_KEYS) secretKeyVerdicts.set(key, secret);
  }
  return secret;
};

/**
 * Those names inside text (`?token=…`, `password=…`, `"x-2fa-code":"…"`): here the name must end in
 * one of them, as `email_codes=12` and `challenges=3` (the retention job's counts) are not secrets.
 */
const SECRET_NAME_IN_TEXT =
  '[\\w.-]*(?:token|passw(?:or)?d|passphrase|secret|code|cookie|authori[sz]ation|totp|resume|challenge[-_]?id|api[-_]?key|signature|credentials?)|pass|otp';

/**
 * Shapes that are secrets wherever they appear, so every logged string is cleaned of them: they
 * never occur in a message worth reading (paths, counts, ids of rows stay as they are).
 */
const TEXT_RULES: ReadonlyArray<[RegExp, string]> = [
  // postgres://user:password@host, smtp://user:password@host
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*):[^\s@/]*@/gi, `$1:${REDACTED}@`],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, `$1 ${REDACTED}`],
  // A JWT: the step-up, access, refresh and two-factor tokens of surface 2.
  [/\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, REDACTED],
  [new RegExp(`((?:^|[?&;\\s])(?:${SECRET_NAME_IN_TEXT}))=[^&\\s#]+`, 'gi'), `$1=${REDACTED}`],
  [new RegExp(`("(?:${SECRET_NAME_IN_TEXT})"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, 'gi'), `$1"${REDACTED}"`],
];

/**
 * Every rule above needs one of these in the text: most logged strings (request ids, routes,
 * methods, messages) have none, and are let through after this one test instead of five.
 */
const MIGHT_HOLD_SECRET = /:\/\/|Bearer|Basic|eyJ|=|"/;

/** Every logged string goes through this. */
export function scrubText(text: string): string {
  if (!MIGHT_HOLD_SECRET.test(text)) return text;
  let scrubbed = text;
  for (const [pattern, replacement] of TEXT_RULES) scrubbed = scrubbed.replace(pattern, replacement);
  return scrubbed;
}

/**
 * Error messages are written by libraries, and some quote the value they choke on (PostgreSQL's
 * `invalid input syntax for type uuid: "…"`, `Key (token_hash)=(…) already exists`). Whatever
 * could be such a value goes: quoted text, `=(…)` details, digit codes, hex digests and
 * token-like runs of letters and digits. A message loses a name now and then; the stack frames
 * still say where it failed.
 */
const ERROR_TEXT_RULES: ReadonlyArray<[RegExp, string]> = [
  [/"[^"\n]{6,}"/g, `"${REDACTED}"`],
  [/'[^'\n]{6,}'/g, `'${REDACTED}'`],
  [/`[^`\n]{6,}`/g, `\`${REDACTED}\``],
  [/=\([^)\n]*\)/g, `=(${REDACTED})`],
  [/\b[0-9a-f]{32,}\b/gi, REDACTED],
  [/\b\d{3}[- ]?\d{3}\b|\b\d{6,}\b/g, REDACTED],
  // Login and access tokens (base64url), TOTP secrets (base32), backup codes, ids.
  [/(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{10,}(?![\w-])/g, REDACTED],
];

export function scrubErrorText(text: string): string {
  let scrubbed = scrubText(text);
  for (const [pattern, replacement] of ERROR_TEXT_RULES) scrubbed = scrubbed.replace(pattern, replacement);
  return scrubbed;
}

/** A stack's frames (`    at …`) name files and lines only; its head is the message, scrubbed as one. */
function scrubStack(stack: string): string {
  const frames = stack.search(/\n\s+at /);
  return frames < 0 ? scrubErrorText(stack) : scrubErrorText(stack.slice(0, frames)) + stack.slice(frames);
}

export interface LoggedError {
  type: string;
  message: string;
  stack?: string;
  code?: string;
  cause?: LoggedError;
}

/**
 * An error as it may be logged: its type, message, stack and a short code, never its other
 * fields (a TypeORM QueryFailedError carries the query's parameters, an HTTP client error the
 * request with its headers).
 */
export function loggedError(error: Error, depth = 0): LoggedError {
  const logged: LoggedError = {
    type: error.name || error.constructor?.name || 'Error',
    message: scrubErrorText(String(error.message)),
  };
  if (typeof error.stack === 'string') logged.stack = scrubStack(error.stack);
  const code = (error as { code?: unknown }).code;
  // Driver and system codes (ECONNREFUSED, 57P01), never a value that happens to sit under `code`.
  if (typeof code === 'string' && /^[A-Z0-9_]{1,32}$/.test(code)) logged.code = code;
  if (error.cause instanceof Error && depth < 3) logged.cause = loggedError(error.cause, depth + 1);
  return logged;
}

const MAX_DEPTH = 8;

function redactValue(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return loggedError(value);
  if (value instanceof Date) return value;
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[${value.constructor.name} of ${value.byteLength} bytes]`;
  // Requests and responses by what names them (their headers hold tokens and cookies); other
  // emitters (sockets, streams, loggers) by their type.
  if (value instanceof IncomingMessage) return { method: value.method, path: value.url?.split('?')[0] };
  if (value instanceof ServerResponse) return { status: value.statusCode };
  if (value instanceof EventEmitter) return `[${value.constructor.name}]`;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Too deep]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1, seen));
    if (value instanceof Map) return redactRecord(Object.fromEntries(value), depth, seen);
    if (value instanceof Set) return [...value].map((item) => redactValue(item, depth + 1, seen));
    return redactRecord(value as Record<string, unknown>, depth, seen);
  } finally {
    seen.delete(value);
  }
}

function redactRecord(record: Record<string, unknown>, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(record)) {
    if (item === undefined || typeof item === 'function') continue;
    result[key] = isSecretKey(key) ? REDACTED : redactValue(item, depth + 1, seen);
  }
  return result;
}

/**
 * The fields of a log line, made safe to write: credentials by field name at any depth, secret
 * shapes inside strings, errors reduced to what `loggedError` keeps. A copy; the caller's object
 * is untouched.
 */
export function redactLogFields(fields: Record<string, unknown>): Record<string, unknown> {
  return redactRecord(fields, 0, new WeakSet());
}
