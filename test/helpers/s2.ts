import { expect } from 'vitest';
import type { ApiResponse } from './api.js';

export interface S2Tokens {
  access?: string;
  refresh?: string;
  stepUp?: string;
  twoFactor?: string;
}

export type TokenCarriage = 'cookies' | 'headers';

const COOKIE_NAMES: Record<keyof S2Tokens, string> = {
  access: 'access_token',
  refresh: 'refresh_token',
  stepUp: 'step_up_token',
  twoFactor: 'two_factor_authentication_token',
};

export interface S2RequestOptions {
  /** Headers mode: the tokens to send (the refresh one replaces the access token in Authorization). */
  tokens?: S2Tokens;
  headers?: Record<string, string>;
  rawBody?: string;
}

/**
 * A surface-2 client that carries its tokens the way a browser does (a cookie jar fed by
 * Set-Cookie) or the way an app does (the tokens from the bodies, sent as headers).
 */
export class S2Api {
  readonly jar = new Map<string, string>();
  /** Every Set-Cookie line received, for attribute checks. */
  readonly setCookies: string[] = [];

  constructor(
    private readonly baseUrl: string,
    readonly carriage: TokenCarriage = 'cookies',
  ) {}

  async request<T = any>(method: string, path: string, body?: unknown, options: S2RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { 'user-agent': 'tfa-s2-tests/1.0', ...options.headers };
    if (this.carriage === 'cookies' && this.jar.size > 0) {
      headers.cookie = [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
    }
    const tokens = options.tokens ?? {};
    if (tokens.refresh) headers.authorization = `Bearer ${tokens.refresh}`;
    else if (tokens.access) headers.authorization = `Bearer ${tokens.access}`;
    if (tokens.stepUp) headers['x-step-up-token'] = tokens.stepUp;
    if (tokens.twoFactor) headers['x-two-factor-authentication-token'] = tokens.twoFactor;
    let payload = options.rawBody;
    if (body !== undefined) payload = JSON.stringify(body);
    if (payload !== undefined && !Object.keys(headers).some((key) => key.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
    const response = await fetch(`${this.baseUrl}${path}`, { method, headers, body: payload });
    for (const line of response.headers.getSetCookie()) {
      this.setCookies.push(line);
      const [pair] = line.split(';');
      const [name, ...rest] = pair!.split('=');
      const value = rest.join('=');
      if (/max-age=0(;|$)/i.test(line) || value === '') this.jar.delete(name!.trim());
      else this.jar.set(name!.trim(), value);
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }

  post<T = any>(path: string, body?: unknown, options?: S2RequestOptions) {
    return this.request<T>('POST', path, body, options);
  }

  get<T = any>(path: string, options?: S2RequestOptions) {
    return this.request<T>('GET', path, undefined, options);
  }

  delete<T = any>(path: string, options?: S2RequestOptions) {
    return this.request<T>('DELETE', path, undefined, options);
  }

  cookie(token: keyof S2Tokens): string | undefined {
    return this.jar.get(COOKIE_NAMES[token]);
  }
}

/** Singularity's error body for `code` at `path`. */
export const s2Error = (status: number, code: string, path: string) => ({
  timestamp: expectIsoString(),
  status,
  code,
  error: expectString(),
  message: expectString(),
  path,
});

const expectIsoString = () => expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
const expectString = () => expect.any(String);
