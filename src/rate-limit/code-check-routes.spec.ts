import { type ExecutionContext, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, MODULE_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { describe, expect, it } from 'vitest';
import { AuthApiModule } from '../api/auth/auth-api.module.js';
import { V1ApiModule } from '../api/v1/v1-api.module.js';
import { isCodeCheckRoute } from './rate-limit.guard.js';

type Controller = new (...args: never[]) => object;

/** `METHOD /path` of every route of the module's controllers whose metadata says it checks a code or password. */
function codeCheckRoutes(module: object): string[] {
  const controllers: Controller[] = Reflect.getMetadata(MODULE_METADATA.CONTROLLERS, module);
  return controllers.flatMap((controller) => {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller));
    const prototype = controller.prototype as Record<string, unknown>;
    return Object.getOwnPropertyNames(prototype).flatMap((name) => {
      const handler = prototype[name];
      if (typeof handler !== 'function' || typeof Reflect.getMetadata(PATH_METADATA, handler) !== 'string') return [];
      const context = { getHandler: () => handler, getClass: () => controller } as unknown as ExecutionContext;
      if (!isCodeCheckRoute(context)) return [];
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
      return [`${method} /${base}/${String(Reflect.getMetadata(PATH_METADATA, handler))}`.replace(/\/+/g, '/')];
    });
  });
}

/**
 * The routes that refuse (503) rather than count per process while Redis is down: every route
 * that checks a second-factor code or a password, and no other. A route added to either list, or
 * dropped from it, is a decision to make here.
 */
describe('code-check routes', () => {
  it('surface 1: login, verifyChallenge and every route behind the second-factor handshake', () => {
    expect(codeCheckRoutes(V1ApiModule).sort()).toEqual(
      [
        'POST /api/v1/login',
        'POST /api/v1/twoFactorChallenges.verifyChallenge',
        'POST /api/v1/users.create',
        'POST /api/v1/users.updateOwnBasicInfo',
        'POST /api/v1/users.generatePersonalAccessToken',
        'POST /api/v1/users.regeneratePersonalAccessToken',
        'POST /api/v1/users.removePersonalAccessToken',
        'POST /api/v1/users.deleteOwnAccount',
        'POST /api/v1/users.2fa.disableEmail',
        'POST /api/v1/users.2fa.validateTOTP',
        'POST /api/v1/users.2fa.disableTOTP',
        'POST /api/v1/users.2fa.regenerateBackupCodes',
        'POST /api/v1/users.2fa.unlock',
      ].sort(),
    );
  });

  it('surface 2: password and code checks only (a step-up token is not one: it cannot be guessed)', () => {
    expect(codeCheckRoutes(AuthApiModule).sort()).toEqual(
      [
        'POST /api/auth/login',
        'POST /api/auth/2fa/login',
        'POST /api/auth/2fa/totp/recover',
        'POST /api/auth/step-up',
        'POST /api/auth/2fa/step-up',
        'POST /api/auth/2fa/email/enable',
        'POST /api/auth/2fa/totp/setup',
      ].sort(),
    );
  });
});
