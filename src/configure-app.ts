import { BadRequestException, UnsupportedMediaTypeException, ValidationError, ValidationPipe } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { DomainError, ErrorCode } from './common/domain-error.js';

const flatten = (errors: ValidationError[], parent = ''): ValidationError[] =>
  errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    return error.children?.length ? flatten(error.children, path) : [{ ...error, property: path }];
  });

/** Names the fields and the rule they broke, never the values (they may be passwords or codes). */
export const validationExceptionFactory = (errors: ValidationError[]): DomainError => {
  const flat = flatten(errors);
  const required = flat.find(
    (error) =>
      Object.values(error.contexts ?? {}).some((context) => (context as { parameterRequired?: boolean }).parameterRequired) &&
      (error.value === undefined || error.value === null || error.value === ''),
  );
  if (required) return new DomainError(ErrorCode.ParameterRequired, `${required.property} is required`);
  const problems = flat.map((error) =>
    error.constraints?.whitelistValidation ? `${error.property} is not allowed` : `${error.property} is invalid`,
  );
  return new DomainError(ErrorCode.InvalidParams, [...new Set(problems)].join('; ') || 'Invalid parameters');
};

class BodyShapeError extends BadRequestException {}

/**
 * JSON.parse keeps `__proto__` as an own key; copied onto a DTO by class-transformer it replaces
 * the DTO's prototype (fields then read through it, unvalidated). Rejected like any unknown field.
 */
const POISONED_KEYS = new Set(['__proto__', 'constructor']);

/**
 * Everything the HTTP application needs beyond its modules; main.ts and the end-to-end tests
 * both call it, so the tests exercise the real set-up.
 */
export async function configureApp(app: NestFastifyApplication): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  // An empty JSON body is a request without parameters (Rocket.Chat clients send those);
  // the top level must be an object.
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, {});
    try {
      let poisoned = false;
      const parsed: unknown = JSON.parse(text, (key, value: unknown) => {
        if (POISONED_KEYS.has(key)) poisoned = true;
        return value;
      });
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        return done(new BodyShapeError('The body must be a JSON object'), undefined);
      }
      if (poisoned) return done(new BodyShapeError('The body must not hold __proto__ or constructor keys'), undefined);
      return done(null, parsed);
    } catch {
      return done(new BodyShapeError('The body is not valid JSON'), undefined);
    }
  });
  // The verification page's confirm button posts a form. The API itself takes JSON only, so a
  // cross-site HTML form cannot post to it (no login CSRF).
  fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (request, body, done) => {
    if (request.url.startsWith('/api/')) {
      return done(new UnsupportedMediaTypeException('The API accepts application/json bodies only'), undefined);
    }
    const fields = new URLSearchParams(String(body));
    if ([...fields.keys()].some((key) => POISONED_KEYS.has(key))) {
      return done(new BodyShapeError('The body must not hold __proto__ or constructor keys'), undefined);
    }
    done(null, Object.fromEntries(fields));
  });

  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      transform: true,
      transformOptions: { enableImplicitConversion: false },
      validationError: { target: false, value: true },
      exceptionFactory: validationExceptionFactory,
    }),
  );
  app.enableShutdownHooks();

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Two-factor authentication service')
      .setDescription(
        [
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
          'See README.md ("The two-factor flow") for a walk-through and the configuration.',
        ].join('\n\n'),
      )
      .setVersion('0.1.0')
      .build(),
  );
  fastify.get('/api/openapi.json', (_request, reply) => {
    void reply.send(document);
  });
}
