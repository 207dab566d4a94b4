import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { AppConfig } from '../config/app-config.js';
import { S2_SECURITY } from './auth/s2-openapi.js';
import { V1_SECURITY } from './v1/v1-openapi.js';

const DESCRIPTION = [
  'Surface 1 (`/api/v1`) is Rocket.Chat-compatible: authenticated calls carry `X-User-Id` and `X-Auth-Token` ' +
    '(from `login`); success is 200 `{"success":true, …}`, failure 400 ' +
    '`{"success":false,"error":"<message> [<errorType>]","errorType":…,"details"?}`.',
  '**2FA handshake** (routes listing `x-2fa-code`): without a code the answer is 400 `totp-required` with ' +
    '`details: {method, codeGenerated, emailOrUsername, availableMethods}` (for `email`, a code is mailed). ' +
    'Repeat the same request with headers `x-2fa-method` (`totp`, `email`, or `password` when no method is ' +
    'enabled) and `x-2fa-code` (the authenticator or backup code, the emailed code, or the hex SHA-256 of the ' +
    'password). A wrong code gives `totp-invalid`, too many `totp-max-attempts`. A right code is remembered for ' +
    'the login token and client for REMEMBER_2FA_SECONDS, except on routes that ask every time.',
  '`login` answers 401 `totp-required` with a `details.challengeId`: repeat the login with the code, or finish ' +
    'it with `twoFactorChallenges.verifyChallenge`.',
  'Surface 2 (`/api/auth`, `/api/users/me/sessions`) is Singularity-compatible: access, refresh, step-up and ' +
    'two-factor JWTs, each as an HTTP-only cookie or a header (the header wins). Every error is ' +
    '`{"timestamp","status","code","error","message","path"}`; a 304 carries its code in `X-Error-Code`.',
  'See README.md ("The two-factor flow", "The token surface") for walk-throughs and the configuration.',
].join('\n\n');

/** Every tag an operation uses, declared with what it groups (the browsable page orders and explains them). */
const TAGS: ReadonlyArray<[name: string, description: string]> = [
  ['v1: session', 'Surface 1: log in (with the second factor), log out, the logged-in user'],
  ['v1: users', 'Surface 1: registration, email verification, profile changes, personal access tokens, account deletion'],
  ['v1: two-factor', 'Surface 1: turning email 2FA and TOTP on and off, backup codes, second-factor events, unlocking'],
  ['v1: two-factor challenges', 'Surface 1: finishing a login through the challenge its 401 totp-required named'],
  ['auth: authentication', 'Surface 2: registration, login with its second factor, refresh, logout, step-up, status'],
  ['auth: two-factor', 'Surface 2: email 2FA, TOTP and the preferred method (changes need a step-up token)'],
  ['auth: sessions', "Surface 2: the caller's sessions (list, end one, end all)"],
  ['health', 'Probes for load balancers and orchestrators; never rate limited'],
  ['metrics', 'Prometheus metrics; never rate limited'],
];

/** The OpenAPI document of both surfaces, as served at GET /api/openapi.json. */
export function buildOpenApiDocument(app: NestFastifyApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('Two-factor authentication service')
    .setDescription(DESCRIPTION)
    .setVersion('0.1.0')
    // Where this instance is reached (the base of the links it mails), so "try it out" calls it; and,
    // for a page opened on another address (the instance itself, a port forward), that address.
    .addServer(app.get(AppConfig).publicUrl, 'This instance (PUBLIC_URL)')
    .addServer('/', 'The address this document was loaded from')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-User-Id', description: 'The userId from login' }, V1_SECURITY.userId)
    .addApiKey(
      { type: 'apiKey', in: 'header', name: 'X-Auth-Token', description: 'The authToken from login, or a personal access token' },
      V1_SECURITY.authToken,
    )
    .addCookieAuth('access_token', { type: 'apiKey', in: 'cookie', name: 'access_token' }, S2_SECURITY.accessCookie)
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The access token; on /refresh, the refresh token' },
      S2_SECURITY.bearer,
    )
    .addCookieAuth('refresh_token', { type: 'apiKey', in: 'cookie', name: 'refresh_token' }, S2_SECURITY.refreshCookie)
    .addCookieAuth('step_up_token', { type: 'apiKey', in: 'cookie', name: 'step_up_token' }, S2_SECURITY.stepUpCookie)
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Step-Up-Token' }, S2_SECURITY.stepUpHeader)
    .addCookieAuth(
      'two_factor_authentication_token',
      { type: 'apiKey', in: 'cookie', name: 'two_factor_authentication_token' },
      S2_SECURITY.twoFactorCookie,
    )
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Two-Factor-Authentication-Token' }, S2_SECURITY.twoFactorHeader);
  for (const [name, description] of TAGS) builder.addTag(name, description);
  const config = builder.build();
  // package.json's licence; DocumentBuilder.setLicense insists on a URL, which a proprietary licence does not have.
  config.info.license = { name: 'UNLICENSED' };

  return SwaggerModule.createDocument(app, config);
}

/**
 * The last touch before the document is served, once every module has added its paths (metrics
 * adds GET /metrics): an operation without security requirements says it needs none (an empty
 * list), instead of leaving readers and linters to guess.
 */
export function markPublicOperations(document: OpenAPIObject): OpenAPIObject {
  for (const pathItem of Object.values(document.paths)) {
    for (const operation of Object.values(pathItem)) {
      if (operation && typeof operation === 'object' && 'responses' in operation) operation.security ??= [];
    }
  }
  return document;
}
