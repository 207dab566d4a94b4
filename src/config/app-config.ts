import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  isIP,
  IsEmail,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  isURL,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateBy,
  validateSync,
  ValidationError,
} from 'class-validator';

/** See AppConfig.DATABASE_URL. */
export function isPostgresUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const parse = (text: string): URL | null => {
    try {
      return new URL(text);
    } catch {
      return null;
    }
  };
  // Credentials before an empty host (user:pw@/name?host=/socket) are fine for libpq and pg, not
  // for the WHATWG parser: such a URL is read with a stand-in host, and needs ?host= then.
  const url = parse(value) ?? parse(value.replace('@/', '@empty-host/'));
  if (!url || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')) return false;
  let socketDirectory: string;
  try {
    socketDirectory = url.searchParams.get('host') ?? decodeURIComponent(url.hostname);
  } catch {
    return false; // a malformed %-escape
  }
  if (socketDirectory.startsWith('/')) return true;
  return isURL(value, { protocols: ['postgres', 'postgresql'], require_tld: false, require_protocol: true });
}

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;
const toBool = ({ value }: { value: unknown }) => {
  if (typeof value !== 'string') return value;
  const normalized = value.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(normalized)) return true;
  if (['false', '0', 'no'].includes(normalized)) return false;
  return value;
};
const toTrustProxy = ({ value }: { value: unknown }) => {
  if (typeof value !== 'string') return value;
  const trimmed = value.trim();
  if (['false', '0', 'no'].includes(trimmed.toLowerCase())) return false;
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  if (['true', 'yes'].includes(trimmed.toLowerCase())) return trimmed;
  return trimmed
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
};
const isAddressOrCidr = (entry: string): boolean => {
  const [address = '', prefix, ...rest] = entry.split('/');
  const version = isIP(address) ? (address.includes(':') ? 6 : 4) : 0;
  if (!version || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
};
const toList = ({ value }: { value: unknown }) =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean)
    : value;

export const SUPPORTED_LOCALES = ['en', 'de', 'fr', 'es', 'pt-BR'] as const;
export type Locale = (typeof SUPPORTED_LOCALES)[number];

/**
 * The whole configuration, read from the environment once at start-up. Every field is one
 * variable of the same name; defaults follow API.md ("Running it") and DESIGN.md's security table.
 */
export class AppConfig {
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  @IsString()
  @MinLength(1)
  HOST = '127.0.0.1';

  /**
   * Serve GET /metrics (Prometheus) only on this port, a listener of its own, instead of on the
   * public port (where /metrics then answers 404). Unset: /metrics is on the public port. 0 picks a free port.
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  METRICS_PORT?: number;

  /** The address the METRICS_PORT listener binds to: loopback unless the scraper is elsewhere. */
  @IsString()
  @MinLength(1)
  METRICS_HOST = '127.0.0.1';

  @IsString()
  @MinLength(1)
  DATA_DIR = './.data';

  /**
   * A server by host name or address (postgres://user:pass@db:5432/name?sslmode=require), or on a
   * Unix socket, as libpq and pg write it: postgresql:///name?host=/var/run/postgresql, or the
   * socket directory percent-encoded in place of the host (postgres://user@%2Fcloudsql%2Fdb/name).
   */
  @IsOptional()
  @ValidateBy({
    name: 'postgresUrl',
    validator: {
      validate: isPostgresUrl,
      defaultMessage: () =>
        'DATABASE_URL must be a postgres:// or postgresql:// URL with a host, or a Unix socket directory ' +
        '(?host=/path, or the path percent-encoded in place of the host)',
    },
  })
  DATABASE_URL?: string;

  @IsOptional()
  @IsUrl({ protocols: ['smtp', 'smtps'], require_tld: false, require_protocol: true })
  SMTP_URL?: string;

  @IsString()
  @MinLength(3)
  MAIL_FROM = '"Two-Factor" <no-reply@localhost>';

  @IsOptional()
  @IsUrl({ protocols: ['redis', 'rediss'], require_tld: false, require_protocol: true })
  REDIS_URL?: string;

  /** Prefix of every Redis key, so several deployments (or test runs) can share one server. */
  @IsString()
  @Matches(/^[\w:.-]{0,64}$/, { message: 'REDIS_KEY_PREFIX must be up to 64 of [A-Za-z0-9_:.-]' })
  REDIS_KEY_PREFIX = 'tfa:';

  /**
   * A rate-limit counter in Redis that has not answered after this long counts as Redis being
   * down: code checks answer 503, other routes count in the process (see RateLimitStorage).
   */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(10_000)
  REDIS_COMMAND_TIMEOUT_MS = 250;

  /** Filled from DATA_DIR outside production when unset; see resolveAppSecret. */
  @IsOptional()
  @IsString()
  @MinLength(32, { message: 'APP_SECRET must be at least 32 characters' })
  APP_SECRET?: string;

  @IsOptional()
  @Matches(/^[0-9a-zA-Z-_.]{3,32}$/, { message: 'ADMIN_USERNAME must be 3-32 of [0-9a-zA-Z-_.]' })
  ADMIN_USERNAME?: string;

  @IsOptional()
  @IsEmail()
  ADMIN_EMAIL?: string;

  @IsOptional()
  @IsString()
  @MinLength(8, { message: 'ADMIN_PASSWORD must be at least 8 characters' })
  ADMIN_PASSWORD?: string;

  @IsOptional()
  @IsUrl({ protocols: ['http', 'https'], require_tld: false, require_protocol: true })
  PUBLIC_URL?: string;

  @IsIn(SUPPORTED_LOCALES)
  DEFAULT_LOCALE: Locale = 'en';

  @IsIn(['fatal', 'error', 'warn', 'log', 'debug', 'verbose'])
  LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'log' | 'debug' | 'verbose' = 'log';

  /**
   * Whom to believe in X-Forwarded-For for the client address (rate limits, the remember window):
   * `false`, the number of proxies in front of the service, or their addresses (IPs or CIDRs,
   * comma-separated). Never "every hop": a client could then pick its own address.
   */
  @Transform(toTrustProxy)
  @ValidateBy({
    name: 'trustProxy',
    validator: {
      validate: (value: unknown) =>
        value === false ||
        (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 10) ||
        (Array.isArray(value) && value.length > 0 && value.every(isAddressOrCidr)),
      defaultMessage: () =>
        'TRUST_PROXY must be false, the number of proxies in front (1-10), or their IPs/CIDRs, comma-separated ' +
        '(trusting every hop would let clients choose their own address)',
    },
  })
  TRUST_PROXY: false | number | string[] = false;

  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(10 * 1024 * 1024)
  BODY_LIMIT_BYTES = 64 * 1024;

  @Transform(toInt)
  @IsInt()
  @Min(60)
  @Max(86_400)
  EMAIL_CODE_TTL_SECONDS = 600;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(20)
  EMAIL_CODE_MAX_ATTEMPTS = 5;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10)
  EMAIL_CODE_MAX_OUTSTANDING = 3;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3600)
  EMAIL_CODE_RESEND_AFTER_SECONDS = 60;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(30 * 86_400)
  REMEMBER_2FA_SECONDS = 1800;

  /** Login tokens (surface 1's authToken) end this many days after the login (Rocket.Chat's Accounts_LoginExpiration). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3650)
  LOGIN_TOKEN_EXPIRY_DAYS = 90;

  /** Lifetime of a pending second-factor challenge (login or step-up). */
  @Transform(toInt)
  @IsInt()
  @Min(60)
  @Max(86_400)
  CHALLENGE_TTL_SECONDS = 600;

  /** Lifetime of an access token (the Singularity surface's `access_token` JWT). */
  @Transform(toInt)
  @IsInt()
  @Min(60)
  @Max(86_400)
  ACCESS_TOKEN_TTL_SECONDS = 900;

  /** Lifetime of a refresh token (`refresh_token`), the one that mints new access tokens: 30 days. */
  @Transform(toInt)
  @IsInt()
  @Min(300)
  @Max(365 * 86_400)
  REFRESH_TOKEN_TTL_SECONDS = 30 * 86_400;

  /** Lifetime of a step-up token (`step_up_token`), the proof of a fresh second factor for sensitive actions. */
  @Transform(toInt)
  @IsInt()
  @Min(60)
  @Max(86_400)
  STEP_UP_TOKEN_TTL_SECONDS = 900;

  /** Lifetime of a two-factor token (`two_factor_authentication_token`), which carries a pending login or step-up. */
  @Transform(toInt)
  @IsInt()
  @Min(60)
  @Max(3600)
  TWO_FACTOR_TOKEN_TTL_SECONDS = 900;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1000)
  LOCKOUT_THRESHOLD = 10;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(86_400)
  LOCKOUT_BASE_SECONDS = 30;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(7 * 86_400)
  LOCKOUT_MAX_SECONDS = 3600;

  /** NIST 800-63B: no more than 100 consecutive failures; past this the second factor stays locked. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10_000)
  LOCKOUT_MAX_FAILURES = 100;

  @Transform(toBool)
  @IsBoolean()
  TWO_FACTOR_EMAIL_AUTO_OPT_IN = true;

  @Transform(toBool)
  @IsBoolean()
  COMPAT_SEND_EMAIL_CODE_REVEALS_USER = false;

  /** Requests per minute per caller and route on unauthenticated endpoints. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  RATE_LIMIT_PER_MINUTE = 10;

  /** Requests per minute per user and route on authenticated endpoints. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  RATE_LIMIT_AUTHENTICATED_PER_MINUTE = 600;

  /**
   * Failed authentications (a wrong or expired token) per minute per client address; past it every
   * authenticated request from that address answers 429 until the minute is over.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  RATE_LIMIT_FAILED_AUTH_PER_MINUTE = 10;

  /** Requests per minute per caller to `twoFactorChallenges.sendEmailCode` (seed 004: 5). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  RATE_LIMIT_CHALLENGE_EMAIL_PER_MINUTE = 5;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(120_000)
  MAIL_SEND_TIMEOUT_MS = 10_000;

  @Transform(toInt)
  @IsInt()
  @Min(50)
  @Max(3_600_000)
  MAIL_WORKER_INTERVAL_MS = 5000;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  MAIL_MAX_ATTEMPTS = 10;

  /**
   * How long a delivery attempt holds its outbox row (`sending`) before another instance may take
   * it over (the sender died). Unset: 3 × MAIL_SEND_TIMEOUT_MS + 30 s. It must outlast a send (up
   * to 3 × MAIL_SEND_TIMEOUT_MS: connection, greeting, socket), or a slow send is sent twice.
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3600)
  MAIL_LEASE_SECONDS?: number;

  /** The longest one send can take: the transport's three timeouts (connection, greeting, socket) in a row. */
  get longestSendMs(): number {
    return 3 * this.MAIL_SEND_TIMEOUT_MS;
  }

  /** The outbox lease in seconds (MAIL_LEASE_SECONDS, or its default). */
  get mailLeaseSeconds(): number {
    return this.MAIL_LEASE_SECONDS ?? this.longestSendMs / 1000 + 30;
  }

  /**
   * How often the retention job deletes spent codes, challenges, delivered mail and old audit
   * events (it also runs once shortly after start); 0 switches it off in this instance.
   */
  @Transform(toInt)
  @ValidateBy({
    name: 'retentionInterval',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'number' && Number.isInteger(value) && (value === 0 || (value >= 60 && value <= 7 * 86_400)),
      defaultMessage: () => 'RETENTION_INTERVAL_SECONDS must be 0 (off) or 60-604800',
    },
  })
  RETENTION_INTERVAL_SECONDS = 3600;

  /** Delivered or given-up outbox rows are deleted this many days after delivery (or queuing). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3650)
  OUTBOX_RETENTION_DAYS = 7;

  /** Audit events are deleted this many days after they happened. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(36_500)
  AUDIT_RETENTION_DAYS = 365;

  /** GET /health/ready fails (`outbox: "stuck"`) while a due message has waited longer than this. */
  @Transform(toInt)
  @IsInt()
  @Min(60)
  @Max(7 * 86_400)
  OUTBOX_STUCK_SECONDS = 900;

  @Transform(toInt)
  @IsInt()
  @Min(60)
  @Max(365 * 86_400)
  EMAIL_VERIFICATION_TTL_SECONDS = 86_400;

  @Transform(toInt)
  @IsInt()
  @Min(8)
  @Max(128)
  PASSWORD_MIN_LENGTH = 8;

  @Transform(toList)
  @IsString({ each: true })
  @MaxLength(64, { each: true })
  TWO_FACTOR_REQUIRED_ROLES: string[] = [];

  /** The issuer authenticator apps show beside the account (otpauth:// URL); no ":" allowed. */
  @IsString()
  @Matches(/^[^:]{1,64}$/, { message: 'TOTP_ISSUER must be 1-64 characters without ":"' })
  TOTP_ISSUER = 'Two-Factor';

  /** TRUST_PROXY as Fastify's trustProxy: a hop count becomes "trust the nearest n hops". */
  get trustProxy(): boolean | string[] | ((address: string, hop: number) => boolean) {
    const setting = this.TRUST_PROXY;
    return typeof setting === 'number' ? (_address: string, hop: number) => hop < setting : setting;
  }

  get publicUrl(): string {
    return (this.PUBLIC_URL ?? `http://${this.HOST}:${this.PORT}`).replace(/\/+$/, '');
  }

  /** Token cookies get the `Secure` attribute when the service is reached over HTTPS (PUBLIC_URL). */
  get cookieSecure(): boolean {
    return /^https:/i.test(this.publicUrl);
  }

  get dataDir(): string {
    return resolve(this.DATA_DIR);
  }

  get appSecret(): string {
    if (!this.APP_SECRET) throw new Error('APP_SECRET was not resolved; call loadConfig()');
    return this.APP_SECRET;
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const describe = (errors: ValidationError[]): string[] =>
  errors.flatMap((error) => {
    // Connection URLs may carry a password (smtp://user:pass@host): hidden like the secrets.
    const shown = JSON.stringify(error.property.match(/SECRET|PASSWORD|(DATABASE|SMTP|REDIS)_URL/) ? '<hidden>' : error.value);
    return Object.values(error.constraints ?? {}).map((constraint) => `${error.property}=${shown}: ${constraint}`);
  });

/** Variables AppConfig knows; anything else in the environment is ignored. */
const knownKeys = Object.keys(new AppConfig());

export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const raw: Record<string, string> = {};
  for (const key of knownKeys) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const config = plainToInstance(AppConfig, raw);
  const problems = describe(validateSync(config, { forbidUnknownValues: false }));
  if (
    (config.ADMIN_USERNAME || config.ADMIN_EMAIL || config.ADMIN_PASSWORD) &&
    !(config.ADMIN_USERNAME && config.ADMIN_EMAIL && config.ADMIN_PASSWORD)
  ) {
    problems.push('ADMIN_USERNAME, ADMIN_EMAIL and ADMIN_PASSWORD must be set together');
  }
  if (config.METRICS_PORT !== undefined && config.METRICS_PORT !== 0 && config.METRICS_PORT === config.PORT) {
    problems.push('METRICS_PORT must differ from PORT (leave it unset to serve /metrics on the public port)');
  }
  // Compared once both are valid numbers (a bad value is already reported, naming its variable).
  if (
    !problems.some((problem) => /^(MAIL_LEASE_SECONDS|MAIL_SEND_TIMEOUT_MS)=/.test(problem)) &&
    config.MAIL_LEASE_SECONDS !== undefined &&
    config.MAIL_LEASE_SECONDS * 1000 <= config.longestSendMs
  ) {
    problems.push('MAIL_LEASE_SECONDS must exceed 3 × MAIL_SEND_TIMEOUT_MS (the longest a send can take)');
  }
  if (config.LOCKOUT_BASE_SECONDS > config.LOCKOUT_MAX_SECONDS) {
    problems.push('LOCKOUT_BASE_SECONDS must not exceed LOCKOUT_MAX_SECONDS');
  }
  if (!config.APP_SECRET && config.NODE_ENV === 'production') {
    problems.push('APP_SECRET is required when NODE_ENV=production');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  if (!config.APP_SECRET) config.APP_SECRET = readOrCreateDevSecret(config.dataDir);
  return config;
}

/** Outside production a secret is generated once and kept, so codes and tokens survive restarts. */
function readOrCreateDevSecret(dataDir: string): string {
  const file = join(dataDir, 'app-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}
