import { applyDecorators, CanActivate, createParamDecorator, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiHeader } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { SessionsService, type AuthenticatedSession } from '../../auth/sessions.service.js';
import { DomainError, ErrorCode } from '../../common/domain-error.js';
import { clientInfoOf } from '../../two-factor/two-factor.guard.js';
import type { TwoFactorSubject } from '../../two-factor/two-factor.types.js';
import { AUTHENTICATED_ROUTE } from '../../rate-limit/rate-limit.guard.js';
import { V1ErrorResponse } from './v1-openapi.js';

export type V1Request = FastifyRequest & { auth?: AuthenticatedSession; twoFactorSubject?: TwoFactorSubject };

const headerValue = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
};

/**
 * `X-User-Id` + `X-Auth-Token`, checked against the sessions table (one indexed query), on routes
 * marked @V1Authenticated(). Registered as a global guard so it always runs before route guards
 * such as TwoFactorGuard, whatever order the decorators are written in.
 */
@Injectable()
export class V1AuthGuard implements CanActivate {
  constructor(
    private readonly sessions: SessionsService,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const authenticated = this.reflector.getAllAndOverride<boolean>(AUTHENTICATED_ROUTE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!authenticated) return true;
    const request = context.switchToHttp().getRequest<V1Request>();
    const userId = headerValue(request, 'x-user-id');
    const token = headerValue(request, 'x-auth-token');
    const auth = userId && token ? await this.sessions.authenticate(userId, token) : null;
    if (!auth) throw new DomainError(ErrorCode.AuthenticationRequired, 'You must be logged in to do this.');
    // Role checks come before any second factor: no code is mailed for a request that cannot succeed.
    const roles = this.reflector.getAllAndOverride<string[] | undefined>(V1_REQUIRED_ROLES, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (roles?.length && !roles.some((role) => auth.user.roles.includes(role))) {
      throw new DomainError(ErrorCode.NotAuthorized, 'Not allowed');
    }
    request.auth = auth;
    request.twoFactorSubject = auth;
    return true;
  }
}

/** Roles of which the caller needs one (checked with the login, before @Requires2FA). */
export const V1_REQUIRED_ROLES = 'v1:required-roles';

/** The route needs a logged-in user (with one of `roles`, if given); also tells the rate limiter to count per user. */
export const V1Authenticated = (options: { roles?: string[] } = {}) =>
  applyDecorators(
    SetMetadata(AUTHENTICATED_ROUTE, true),
    SetMetadata(V1_REQUIRED_ROLES, options.roles ?? []),
    ApiHeader({ name: 'X-User-Id', required: true, description: 'The userId from login' }),
    ApiHeader({ name: 'X-Auth-Token', required: true, description: 'The authToken from login, or a personal access token' }),
    V1ErrorResponse(ErrorCode.AuthenticationRequired),
    ...(options.roles?.length ? [V1ErrorResponse(ErrorCode.NotAuthorized)] : []),
  );

export const CurrentAuth = createParamDecorator((_: unknown, context: ExecutionContext): AuthenticatedSession => {
  const auth = context.switchToHttp().getRequest<V1Request>().auth;
  if (!auth) throw new DomainError(ErrorCode.AuthenticationRequired, 'You must be logged in to do this.');
  return auth;
});

/** The client as the remember window and the audit trail see it (the same reading as TwoFactorGuard's). */
export const ClientOf = createParamDecorator((_: unknown, context: ExecutionContext) =>
  clientInfoOf(context.switchToHttp().getRequest<V1Request>()),
);
