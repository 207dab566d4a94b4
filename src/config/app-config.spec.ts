import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './app-config.js';

const SECRET = 'an-app-secret-of-more-than-32-characters-0123456789';

describe('loadConfig', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'tfa-config-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  const load = (env: Record<string, string | undefined>) => loadConfig({ DATA_DIR: dataDir, APP_SECRET: SECRET, ...env });

  /** The ConfigError thrown for `env` (fails the test if none is thrown). */
  const configError = (env: Record<string, string | undefined>): ConfigError => {
    try {
      load(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return error as ConfigError;
    }
    throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
  };

  describe('defaults (API.md, DESIGN.md)', () => {
    it('fills every documented default', () => {
      const config = load({});
      expect(config).toMatchObject({
        NODE_ENV: 'development',
        PORT: 3000,
        HOST: '127.0.0.1',
        MAIL_FROM: '"Two-Factor" <no-reply@localhost>',
        DEFAULT_LOCALE: 'en',
        TRUST_PROXY: false,
        BODY_LIMIT_BYTES: 65_536,
        EMAIL_CODE_TTL_SECONDS: 600,
        EMAIL_CODE_MAX_ATTEMPTS: 5,
        EMAIL_CODE_MAX_OUTSTANDING: 3,
        EMAIL_CODE_RESEND_AFTER_SECONDS: 60,
        REMEMBER_2FA_SECONDS: 1800,
        LOCKOUT_THRESHOLD: 10,
        LOCKOUT_BASE_SECONDS: 30,
        LOCKOUT_MAX_SECONDS: 3600,
        LOCKOUT_MAX_FAILURES: 100,
        RATE_LIMIT_PER_MINUTE: 10,
        COMPAT_SEND_EMAIL_CODE_REVEALS_USER: false,
        TWO_FACTOR_EMAIL_AUTO_OPT_IN: true,
        EMAIL_VERIFICATION_TTL_SECONDS: 86_400,
        PASSWORD_MIN_LENGTH: 8,
        ACCESS_TOKEN_TTL_SECONDS: 900,
        REFRESH_TOKEN_TTL_SECONDS: 2_592_000,
        STEP_UP_TOKEN_TTL_SECONDS: 900,
        TWO_FACTOR_TOKEN_TTL_SECONDS: 900,
      });
      expect(config.DATABASE_URL).toBeUndefined();
      expect(config.SMTP_URL).toBeUndefined();
      expect(config.REDIS_URL).toBeUndefined();
      expect(config.ADMIN_USERNAME).toBeUndefined();
      expect(config.publicUrl).toBe('http://127.0.0.1:3000');
      expect(config.cookieSecure).toBe(false);
      expect(config.appSecret).toBe(SECRET);
    });

    it('reads the token lifetimes at their bounds', () => {
      const lowest = load({
        ACCESS_TOKEN_TTL_SECONDS: '60',
        REFRESH_TOKEN_TTL_SECONDS: '300',
        STEP_UP_TOKEN_TTL_SECONDS: '60',
        TWO_FACTOR_TOKEN_TTL_SECONDS: '60',
      });
      expect(lowest).toMatchObject({
        ACCESS_TOKEN_TTL_SECONDS: 60,
        REFRESH_TOKEN_TTL_SECONDS: 300,
        STEP_UP_TOKEN_TTL_SECONDS: 60,
        TWO_FACTOR_TOKEN_TTL_SECONDS: 60,
      });
      const highest = load({
        ACCESS_TOKEN_TTL_SECONDS: '86400',
        REFRESH_TOKEN_TTL_SECONDS: '31536000',
        STEP_UP_TOKEN_TTL_SECONDS: '86400',
        TWO_FACTOR_TOKEN_TTL_SECONDS: '3600',
      });
      expect(highest).toMatchObject({
        ACCESS_TOKEN_TTL_SECONDS: 86_400,
        REFRESH_TOKEN_TTL_SECONDS: 31_536_000,
        STEP_UP_TOKEN_TTL_SECONDS: 86_400,
        TWO_FACTOR_TOKEN_TTL_SECONDS: 3600,
      });
    });

    it('marks token cookies Secure exactly when PUBLIC_URL is https', () => {
      expect(load({ PUBLIC_URL: 'https://auth.example.com' }).cookieSecure).toBe(true);
      expect(load({ PUBLIC_URL: 'HTTPS://auth.example.com' }).cookieSecure).toBe(true);
      expect(load({ PUBLIC_URL: 'http://auth.example.com' }).cookieSecure).toBe(false);
      expect(load({ HOST: 'localhost' }).cookieSecure).toBe(false);
    });

    it.each([
      'postgres://app:pw@db.internal:5432/tfa?sslmode=require',
      'postgresql://app@10.0.0.5/tfa',
      'postgresql:///tfa?host=/var/run/postgresql',
      'postgres://app:pw@/tfa?host=/cloudsql/project:region:instance',
      'postgres://app@%2Fvar%2Frun%2Fpostgresql/tfa',
    ])('takes DATABASE_URL %s (a host, or a Unix socket as libpq and pg write it)', (url) => {
      expect(load({ DATABASE_URL: url }).DATABASE_URL).toBe(url);
    });

    it('reads numbers, booleans and URLs from their string form; empty means unset', () => {
      const config = load({
        PORT: ' 8080 ',
        HOST: '0.0.0.0',
        EMAIL_CODE_TTL_SECONDS: '300',
        TRUST_PROXY: '1',
        COMPAT_SEND_EMAIL_CODE_REVEALS_USER: 'TRUE',
        TWO_FACTOR_EMAIL_AUTO_OPT_IN: '0',
        PUBLIC_URL: 'https://auth.example.com/',
        DATABASE_URL: 'postgres://app:pw@db.internal:5432/tfa',
        SMTP_URL: 'smtps://mailer:pw@smtp.example.com:465',
        REDIS_URL: 'redis://cache:6379',
        REMEMBER_2FA_SECONDS: '',
        UNRELATED_VARIABLE: 'ignored',
      });
      expect(config).toMatchObject({
        PORT: 8080,
        EMAIL_CODE_TTL_SECONDS: 300,
        TRUST_PROXY: 1,
        COMPAT_SEND_EMAIL_CODE_REVEALS_USER: true,
        TWO_FACTOR_EMAIL_AUTO_OPT_IN: false,
        REMEMBER_2FA_SECONDS: 1800,
      });
      expect(config.publicUrl).toBe('https://auth.example.com');
      expect(config).not.toHaveProperty('UNRELATED_VARIABLE');
    });

    it('reads TRUST_PROXY as false, a hop count or proxy addresses, and refuses trusting every hop', () => {
      expect(load({}).TRUST_PROXY).toBe(false);
      expect(load({ TRUST_PROXY: 'false' }).TRUST_PROXY).toBe(false);
      expect(load({ TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
      expect(load({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1' }).TRUST_PROXY).toEqual(['10.0.0.0/8', '127.0.0.1', '::1']);
      const hops = load({ TRUST_PROXY: '1' }).trustProxy as (address: string, hop: number) => boolean;
      expect([hops('127.0.0.1', 0), hops('203.0.113.7', 1)]).toEqual([true, false]);
      for (const bad of ['true', 'yes', '10.0.0.0/33', '10.0.0.0/8,nope', '11']) {
        expect(() => load({ TRUST_PROXY: bad }), bad).toThrow(/TRUST_PROXY/);
      }
    });

    it('accepts a complete admin bootstrap', () => {
      const config = load({ ADMIN_USERNAME: 'admin', ADMIN_EMAIL: 'admin@example.com', ADMIN_PASSWORD: 'a good password' });
      expect(config).toMatchObject({
        ADMIN_USERNAME: 'admin',
        ADMIN_EMAIL: 'admin@example.com',
        ADMIN_PASSWORD: 'a good password',
      });
    });
  });

  describe('bad values stop start-up with a message naming the variable', () => {
    it.each([
      ['PORT', 'abc'],
      ['PORT', '70000'],
      ['PORT', '-1'],
      ['PORT', '3000.5'],
      ['EMAIL_CODE_TTL_SECONDS', 'ten minutes'],
      ['EMAIL_CODE_TTL_SECONDS', '0'],
      ['EMAIL_CODE_TTL_SECONDS', '59'],
      ['EMAIL_CODE_TTL_SECONDS', '86401'],
      ['EMAIL_CODE_MAX_ATTEMPTS', '0'],
      ['REMEMBER_2FA_SECONDS', '1e3'],
      ['RATE_LIMIT_PER_MINUTE', '0'],
      ['ACCESS_TOKEN_TTL_SECONDS', '59'],
      ['ACCESS_TOKEN_TTL_SECONDS', '86401'],
      ['ACCESS_TOKEN_TTL_SECONDS', '15m'],
      ['REFRESH_TOKEN_TTL_SECONDS', '299'],
      ['REFRESH_TOKEN_TTL_SECONDS', '31536001'],
      ['STEP_UP_TOKEN_TTL_SECONDS', '59'],
      ['STEP_UP_TOKEN_TTL_SECONDS', '86401'],
      ['TWO_FACTOR_TOKEN_TTL_SECONDS', '59'],
      ['TWO_FACTOR_TOKEN_TTL_SECONDS', '3601'],
      ['TRUST_PROXY', 'maybe'],
      ['COMPAT_SEND_EMAIL_CODE_REVEALS_USER', 'on?'],
      ['TWO_FACTOR_EMAIL_AUTO_OPT_IN', '2'],
      ['PUBLIC_URL', 'not a url'],
      ['PUBLIC_URL', 'ftp://files.example.com'],
      ['PUBLIC_URL', 'app.example.com'],
      ['DATABASE_URL', 'mysql://db.example.com/tfa'],
      ['DATABASE_URL', 'postgres:///tfa'],
      ['DATABASE_URL', 'postgres:///tfa?host=relative/dir'],
      ['DATABASE_URL', 'postgres://%E0%A4%A/tfa'],
      ['DATABASE_URL', 'db.internal:5432/tfa'],
      ['DATABASE_URL', 'postgres://app:pw@/tfa'],
      ['SMTP_URL', 'http://smtp.example.com'],
      ['REDIS_URL', 'localhost:6379'],
      ['NODE_ENV', 'staging'],
      ['DEFAULT_LOCALE', 'xx'],
      ['ADMIN_EMAIL', 'not-an-email'],
    ])('%s=%j', (name, value) => {
      const env: Record<string, string> = { [name]: value };
      if (name === 'ADMIN_EMAIL') Object.assign(env, { ADMIN_USERNAME: 'admin', ADMIN_PASSWORD: 'a good password' });
      const error = configError(env);
      expect(error.message).toContain(name);
      // One line per broken rule, each starting with the variable's name.
      expect(error.problems.length).toBeGreaterThan(0);
      for (const problem of error.problems) expect(problem).toMatch(new RegExp(`^${name}=`));
    });

    it('reports every problem at once', () => {
      const error = configError({ PORT: 'abc', TRUST_PROXY: 'maybe', PUBLIC_URL: 'nope' });
      expect(new Set(error.problems.map((problem) => problem.split('=')[0]))).toEqual(
        new Set(['PORT', 'TRUST_PROXY', 'PUBLIC_URL']),
      );
    });

    it('LOCKOUT_BASE_SECONDS must not exceed LOCKOUT_MAX_SECONDS', () => {
      const error = configError({ LOCKOUT_BASE_SECONDS: '600', LOCKOUT_MAX_SECONDS: '60' });
      expect(error.message).toContain('LOCKOUT_BASE_SECONDS');
      expect(error.message).toContain('LOCKOUT_MAX_SECONDS');
    });
  });

  describe('never prints a secret value', () => {
    it.each([
      ['APP_SECRET', 'short-secret-Zq81'],
      ['ADMIN_PASSWORD', 'pw-Zq81'],
      ['DATABASE_URL', 'mysql://app:db-pass-Zq81@db.internal/tfa'],
      ['SMTP_URL', 'smtp://mailer:smtp-pass-Zq81@smtp.example.com:notaport'],
      ['REDIS_URL', 'http://:redis-pass-Zq81@cache:6379'],
    ])('%s', (name, value) => {
      const env: Record<string, string> = { [name]: value };
      if (name === 'ADMIN_PASSWORD') Object.assign(env, { ADMIN_USERNAME: 'admin', ADMIN_EMAIL: 'admin@example.com' });
      const error = configError(env);
      expect(error.message).toContain(name);
      expect(error.message).not.toContain('Zq81');
      expect(JSON.stringify(error.problems)).not.toContain('Zq81');
      expect(String(error.stack)).not.toContain('Zq81');
    });
  });

  describe('admin bootstrap', () => {
    it('ADMIN_USERNAME alone is refused, naming the missing variables', () => {
      const error = configError({ ADMIN_USERNAME: 'admin' });
      expect(error.message).toContain('ADMIN_EMAIL');
      expect(error.message).toContain('ADMIN_PASSWORD');
    });

    it('ADMIN_PASSWORD without the others is refused without printing it', () => {
      const error = configError({ ADMIN_PASSWORD: 'hidden-admin-pw-Zq81' });
      expect(error.message).toContain('ADMIN_USERNAME');
      expect(error.message).not.toContain('Zq81');
    });
  });

  describe('retention and readiness', () => {
    it('defaults: hourly retention, outbox rows kept 7 days, audit events 365, outbox stuck after 900 s', () => {
      expect(load({})).toMatchObject({
        RETENTION_INTERVAL_SECONDS: 3600,
        OUTBOX_RETENTION_DAYS: 7,
        AUDIT_RETENTION_DAYS: 365,
        OUTBOX_STUCK_SECONDS: 900,
      });
    });

    it('reads them from their string form; RETENTION_INTERVAL_SECONDS=0 switches the job off', () => {
      expect(
        load({
          RETENTION_INTERVAL_SECONDS: '0',
          OUTBOX_RETENTION_DAYS: '30',
          AUDIT_RETENTION_DAYS: '3650',
          OUTBOX_STUCK_SECONDS: '60',
        }),
      ).toMatchObject({
        RETENTION_INTERVAL_SECONDS: 0,
        OUTBOX_RETENTION_DAYS: 30,
        AUDIT_RETENTION_DAYS: 3650,
        OUTBOX_STUCK_SECONDS: 60,
      });
      expect(load({ RETENTION_INTERVAL_SECONDS: '60' }).RETENTION_INTERVAL_SECONDS).toBe(60);
      expect(load({ RETENTION_INTERVAL_SECONDS: '604800' }).RETENTION_INTERVAL_SECONDS).toBe(604_800);
    });

    it.each([
      ['RETENTION_INTERVAL_SECONDS', '59'],
      ['RETENTION_INTERVAL_SECONDS', '-1'],
      ['RETENTION_INTERVAL_SECONDS', '604801'],
      ['RETENTION_INTERVAL_SECONDS', 'hourly'],
      ['OUTBOX_RETENTION_DAYS', '0'],
      ['OUTBOX_RETENTION_DAYS', '3651'],
      ['OUTBOX_RETENTION_DAYS', '7.5'],
      ['AUDIT_RETENTION_DAYS', '0'],
      ['AUDIT_RETENTION_DAYS', '36501'],
      ['OUTBOX_STUCK_SECONDS', '59'],
      ['OUTBOX_STUCK_SECONDS', '604801'],
      ['OUTBOX_STUCK_SECONDS', 'soon'],
    ])('%s=%j is refused, naming the variable', (name, value) => {
      const error = configError({ [name]: value });
      expect(error.problems.length).toBeGreaterThan(0);
      for (const problem of error.problems) expect(problem).toMatch(new RegExp(`^${name}=`));
    });
  });

  describe('metrics listener', () => {
    it('defaults: /metrics on the public port (METRICS_PORT unset), METRICS_HOST loopback', () => {
      const config = load({});
      expect(config.METRICS_PORT).toBeUndefined();
      expect(config.METRICS_HOST).toBe('127.0.0.1');
    });

    it('reads METRICS_PORT (0: a free port) and METRICS_HOST', () => {
      expect(load({ METRICS_PORT: ' 9464 ', METRICS_HOST: '0.0.0.0' })).toMatchObject({
        METRICS_PORT: 9464,
        METRICS_HOST: '0.0.0.0',
      });
      expect(load({ METRICS_PORT: '0' }).METRICS_PORT).toBe(0);
      expect(load({ METRICS_PORT: '' }).METRICS_PORT).toBeUndefined();
    });

    it.each(['http', '-1', '65536', '9464.5'])('METRICS_PORT=%j is refused, naming the variable', (value) => {
      const error = configError({ METRICS_PORT: value });
      expect(error.problems.length).toBeGreaterThan(0);
      for (const problem of error.problems) expect(problem).toMatch(/^METRICS_PORT=/);
    });

    it('METRICS_PORT must differ from PORT', () => {
      expect(configError({ PORT: '8080', METRICS_PORT: '8080' }).message).toMatch(/METRICS_PORT must differ from PORT/);
      expect(load({ PORT: '0', METRICS_PORT: '0' }).METRICS_PORT).toBe(0);
    });
  });

  describe('several instances: Redis timeout and outbox lease', () => {
    it('defaults: Redis answers within 250 ms; the lease outlasts three send timeouts by 30 s', () => {
      const config = load({});
      expect(config.REDIS_COMMAND_TIMEOUT_MS).toBe(250);
      expect(config.MAIL_LEASE_SECONDS).toBeUndefined();
      expect(config.mailLeaseSeconds).toBe(60);
      expect(load({ MAIL_SEND_TIMEOUT_MS: '2000' }).mailLeaseSeconds).toBe(36);
    });

    it('MAIL_LEASE_SECONDS replaces the default, but must outlast three send timeouts', () => {
      expect(load({ MAIL_SEND_TIMEOUT_MS: '4000', MAIL_LEASE_SECONDS: '13' }).mailLeaseSeconds).toBe(13);
      expect(configError({ MAIL_SEND_TIMEOUT_MS: '4000', MAIL_LEASE_SECONDS: '12' }).message).toMatch(
        /MAIL_LEASE_SECONDS must exceed 3 × MAIL_SEND_TIMEOUT_MS/,
      );
      expect(configError({ MAIL_LEASE_SECONDS: '0' }).problems).toEqual([expect.stringMatching(/^MAIL_LEASE_SECONDS=0: /)]);
      expect(configError({ REDIS_COMMAND_TIMEOUT_MS: '5' }).problems).toEqual([
        expect.stringMatching(/^REDIS_COMMAND_TIMEOUT_MS=5: /),
      ]);
    });
  });

  describe('APP_SECRET', () => {
    it('is required when NODE_ENV=production, and no secret file is made', () => {
      const error = configError({ NODE_ENV: 'production', APP_SECRET: undefined });
      expect(error.message).toContain('APP_SECRET');
      expect(existsSync(join(dataDir, 'app-secret'))).toBe(false);
      expect(load({ NODE_ENV: 'production' }).appSecret).toBe(SECRET);
    });

    it('outside production it is generated once into DATA_DIR and kept', () => {
      const first = load({ APP_SECRET: undefined });
      const file = join(dataDir, 'app-secret');
      expect(first.appSecret.length).toBeGreaterThanOrEqual(32);
      expect(readFileSync(file, 'utf8').trim()).toBe(first.appSecret);
      expect(statSync(file).mode & 0o077).toBe(0);
      expect(load({ APP_SECRET: undefined }).appSecret).toBe(first.appSecret);
    });

    it('must be at least 32 characters', () => {
      expect(configError({ APP_SECRET: 'x'.repeat(31) }).message).toContain('APP_SECRET');
      expect(load({ APP_SECRET: 'x'.repeat(32) }).appSecret).toBe('x'.repeat(32));
    });
  });
});
