import { createHash } from 'node:crypto';
import type { TestApp } from './test-app.js';

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface Credentials {
  userId: string;
  authToken: string;
}

export interface RequestOptions {
  auth?: Credentials;
  headers?: Record<string, string>;
  /** A raw body sent as is (for hostile-input tests). */
  rawBody?: string;
}

export const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

/** A thin fetch client over the real HTTP port. */
export class Api {
  constructor(private readonly baseUrl: string) {}

  async request<T = any>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { 'user-agent': 'tfa-tests/1.0', ...options.headers };
    if (options.auth) {
      headers['x-user-id'] = options.auth.userId;
      headers['x-auth-token'] = options.auth.authToken;
    }
    let payload: string | undefined = options.rawBody;
    if (body !== undefined) payload = JSON.stringify(body);
    if (payload !== undefined && !Object.keys(headers).some((key) => key.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
    const response = await fetch(`${this.baseUrl}${path}`, { method, headers, body: payload });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (an HTML page): keep the text
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }

  post<T = any>(path: string, body?: unknown, options?: RequestOptions) {
    return this.request<T>('POST', path, body, options);
  }

  get<T = any>(path: string, options?: RequestOptions) {
    return this.request<T>('GET', path, undefined, options);
  }
}

export interface TestUser {
  username: string;
  email: string;
  password: string;
  userId: string;
}

let sequence = 0;
export const uniqueName = (prefix = 'user'): string => `${prefix}${Date.now().toString(36)}${(sequence++).toString(36)}`;

/** Registers a user and verifies the address through the link in the real email. */
export async function registerVerifiedUser(api: Api, t: TestApp, overrides: Partial<TestUser> = {}): Promise<TestUser> {
  const username = overrides.username ?? uniqueName();
  const email = overrides.email ?? `${username}@example.com`;
  const password = overrides.password ?? 'correct horse battery';
  const registered = await api.post('/api/v1/users.register', { username, email, pass: password, name: `Test ${username}` });
  if (registered.status !== 200) throw new Error(`register failed: ${JSON.stringify(registered.body)}`);
  const link = new URL(await t.mail.linkFor(email));
  const verified = await api.post('/api/v1/users.verifyEmail', { token: link.searchParams.get('token') });
  if (verified.status !== 200) throw new Error(`verify failed: ${JSON.stringify(verified.body)}`);
  return { username, email, password, userId: registered.body.user._id };
}

/** Logs in, completing the emailed second factor when asked. */
export async function loginWithEmailCode(
  api: Api,
  t: TestApp,
  user: TestUser,
  headers: Record<string, string> = {},
): Promise<Credentials> {
  const before = t.mail.messages.length;
  const first = await api.post('/api/v1/login', { user: user.username, password: user.password }, { headers });
  if (first.status === 200) return { userId: first.body.data.userId, authToken: first.body.data.authToken };
  if (first.body?.error !== 'totp-required') throw new Error(`login failed: ${JSON.stringify(first.body)}`);
  const code = await t.mail.codeFor(user.email, { after: before });
  const second = await api.post('/api/v1/login', { user: user.username, password: user.password, code }, { headers });
  if (second.status !== 200) throw new Error(`login with code failed: ${JSON.stringify(second.body)}`);
  return { userId: second.body.data.userId, authToken: second.body.data.authToken };
}
