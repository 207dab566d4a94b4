import { Body, Get, HttpCode, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Req } from '@nestjs/common';
import { AccountService } from '../../account/account.service.js';
import { type LoginContext, LoginService } from '../../account/login.service.js';
import { StepUpService } from '../../account/step-up.service.js';
import { SessionsService } from '../../auth/sessions.service.js';
import { TokenError } from '../../auth/tokens/token-error.js';
import { TokenService } from '../../auth/tokens/token.service.js';
import { Clock } from '../../common/clock.js';
import { DomainError, ErrorCode } from '../../common/domain-error.js';
import type { ClientInfo, TwoFactorAttempt } from '../../two-factor/two-factor.types.js';
import type { User } from '../../users/user.entity.js';
import { LocaleQueryDto } from '../shared/locale-query.dto.js';
import {
  CompleteLoginDto,
  LoginRequestDto,
  RecoverDto,
  RegisterRequestDto,
  SecondFactorCodesDto,
  SessionInfoDto,
  StepUpDto,
} from './dto/auth.dto.js';
import { S2, S2Access, S2Auth, S2Client, type S2Context, tokenFailure } from './s2-auth.guard.js';
import { ACCESS_ERRORS, S2Controller, S2Operation, SERVER_ERRORS, TWO_FACTOR_TOKEN_ERRORS } from './s2-openapi.js';
import {
  S2LoginResponseDto,
  S2RecoverResponseDto,
  S2RefreshResponseDto,
  S2StatusResponseDto,
  S2StepUpResponseDto,
  S2SuccessResponseDto,
} from './dto/s2-responses.dto.js';
import { S2_EXAMPLE_JWT, S2_EXAMPLE_PRINCIPAL, S2_EXAMPLE_SESSION_ID } from './s2-examples.js';
import { presentLogin, presentPrincipal, presentStepUp } from './s2-presenters.js';
import { CodeCheck } from '../../rate-limit/rate-limit.guard.js';
import { S2TokenIssuer } from './s2-token-issuer.js';
import type { AuthenticatedSession } from '../../auth/sessions.service.js';

/** The second factor a surface-2 body carries: an email code or a TOTP code; neither is NO_2FA_CODE_PROVIDED. */
export function attemptOf(body: SecondFactorCodesDto): TwoFactorAttempt & { code: string } {
  if (body.email !== undefined) return { method: 'email', code: body.email };
  if (body.totp !== undefined) return { method: 'totp', code: body.totp };
  throw new DomainError(ErrorCode.TwoFactorCodeMissing, 'At least one of email or totp must be provided');
}

export const contextOf = (client: ClientInfo, locale?: string, device?: SessionInfoDto): LoginContext => ({
  client,
  origin: { ...client, browser: device?.browser ?? null, os: device?.os ?? null },
  locale: locale ?? null,
});

/**
 * Surface 2, Singularity-compatible: registration, login (with its second factor), refresh,
 * logout, step-up and status. Tokens go out as HTTP-only cookies and in the body (for clients that
 * send headers).
 */
@S2Controller('api/auth', 'authentication')
export class AuthController {
  constructor(
    private readonly accounts: AccountService,
    private readonly login: LoginService,
    private readonly stepUps: StepUpService,
    private readonly sessions: SessionsService,
    private readonly tokens: TokenService,
    private readonly issuer: S2TokenIssuer,
    private readonly clock: Clock,
  ) {}

  @S2Operation({
    summary: 'Register with email and password',
    description:
      'Answers `{success:true}` whatever happens: a taken address gets a security alert mailed instead of an error, so the ' +
      'answer tells nobody who has an account. Email 2FA is on for password registrations (effective once the address is verified).',
    path: '/api/auth/register',
    type: S2SuccessResponseDto,
    ok: { success: true },
    errors: [ErrorCode.AlreadyAuthenticated, ErrorCode.InvalidEmail, ErrorCode.PasswordPolicy, ErrorCode.InvalidName],
  })
  @Post('register')
  @HttpCode(200)
  @S2Auth({ access: 'lenient' })
  async register(
    @Body() body: RegisterRequestDto,
    @Query() query: LocaleQueryDto,
    @S2() s2: S2Context,
  ): Promise<S2SuccessResponseDto> {
    if (s2.access) throw new DomainError(ErrorCode.AlreadyAuthenticated, 'Login not required: user is already authenticated.');
    await this.accounts.registerQuietly({ email: body.email, password: body.password, name: body.name, locale: query.locale });
    return { success: true };
  }

  @S2Operation({
    summary: 'Log in with email and password',
    description:
      'Without a second factor: access and refresh tokens. With one: `twoFactorRequired: true` and a two-factor token (no ' +
      'access or refresh token); the code is mailed now when the preferred method is email. Finish with 2fa/login.',
    path: '/api/auth/login',
    type: S2LoginResponseDto,
    ok: presentLogin({ user: S2_EXAMPLE_PRINCIPAL, accessToken: S2_EXAMPLE_JWT, refreshToken: S2_EXAMPLE_JWT }),
    errors: [ErrorCode.InvalidCredentials, ErrorCode.TwoFactorLocked, ...SERVER_ERRORS, ErrorCode.RateLimitUnavailable],
  })
  @Post('login')
  @HttpCode(200)
  @CodeCheck()
  async passwordLogin(
    @Body() body: LoginRequestDto,
    @Query() query: LocaleQueryDto,
    @S2Client() client: ClientInfo,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<S2LoginResponseDto> {
    const started = await this.login.startTokenLogin(
      { email: body.email },
      { plain: body.password },
      contextOf(client, query.locale, body.session),
    );
    const principal = presentPrincipal(await this.accounts.profileOf(started.user), this.clock.now());
    if (started.status === 'logged-in') {
      return presentLogin({ user: principal, ...this.issuer.session(reply, started.session, started.token) });
    }
    return presentLogin({
      user: principal,
      twoFactorMethods: started.state.available,
      preferredTwoFactorMethod: started.state.method === 'totp' || started.state.method === 'email' ? started.state.method : null,
      twoFactorAuthenticationToken: this.issuer.twoFactor(reply, started.user.id, started.challenge.id, 'login'),
    });
  }

  @S2Operation({
    summary: 'Finish a login with the second factor',
    description: 'The emailed code as `email`, or the authenticator code as `totp`. Clears the two-factor cookie.',
    path: '/api/auth/2fa/login',
    type: S2LoginResponseDto,
    ok: presentLogin({ user: S2_EXAMPLE_PRINCIPAL, accessToken: S2_EXAMPLE_JWT, refreshToken: S2_EXAMPLE_JWT }),
    errors: [
      ErrorCode.TwoFactorCodeMissing,
      ErrorCode.TwoFactorInvalid,
      ErrorCode.TwoFactorCodeExpired,
      ErrorCode.TwoFactorMaxAttempts,
      ErrorCode.AlreadyAuthenticated,
      ...TWO_FACTOR_TOKEN_ERRORS,
      ErrorCode.RateLimitUnavailable,
    ],
    tokens: { twoFactor: true },
  })
  @Post('2fa/login')
  @HttpCode(200)
  @CodeCheck()
  @S2Auth({ access: 'lenient', twoFactor: 'required' })
  async secondFactorLogin(
    @Body() body: CompleteLoginDto,
    @S2() s2: S2Context,
    @S2Client() client: ClientInfo,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<S2LoginResponseDto> {
    if (s2.access) throw new DomainError(ErrorCode.AlreadyAuthenticated, 'Login not required: user is already authenticated.');
    const claims = this.loginAttempt(s2);
    const { user, session, token } = await this.login.finishTokenLogin(
      claims.challenge,
      claims.sub,
      attemptOf(body),
      contextOf(client, undefined, body.session),
    );
    this.issuer.clearTwoFactor(reply);
    const principal = presentPrincipal(await this.accounts.profileOf(user), this.clock.now());
    return presentLogin({ user: principal, ...this.issuer.session(reply, session, token) });
  }

  @S2Operation({
    summary: 'Finish a login with a recovery code instead of the authenticator',
    description: 'Each recovery code works once; the owner is told by mail. Answers access, refresh and step-up tokens.',
    path: '/api/auth/2fa/totp/recover',
    type: S2RecoverResponseDto,
    ok: { user: S2_EXAMPLE_PRINCIPAL, accessToken: S2_EXAMPLE_JWT, refreshToken: S2_EXAMPLE_JWT, stepUpToken: S2_EXAMPLE_JWT },
    errors: [
      ErrorCode.WrongRecoveryCode,
      ErrorCode.TwoFactorMethodDisabled,
      ErrorCode.TwoFactorMaxAttempts,
      ...TWO_FACTOR_TOKEN_ERRORS,
      ErrorCode.RateLimitUnavailable,
    ],
    tokens: { twoFactor: true },
  })
  @Post('2fa/totp/recover')
  @HttpCode(200)
  @CodeCheck()
  @S2Auth({ twoFactor: 'required' })
  async recover(
    @Body() body: RecoverDto,
    @S2() s2: S2Context,
    @S2Client() client: ClientInfo,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<S2RecoverResponseDto> {
    const claims = this.loginAttempt(s2);
    const loggedIn = await this.login
      .finishTokenLogin(
        claims.challenge,
        claims.sub,
        { method: 'backup', code: body.code },
        contextOf(client, undefined, body.session),
      )
      .catch((error: unknown) => {
        if (error instanceof DomainError && error.code === ErrorCode.InvalidCode) {
          throw new DomainError(ErrorCode.WrongRecoveryCode, 'Wrong recovery code.');
        }
        throw error;
      });
    this.issuer.clearTwoFactor(reply);
    const principal = presentPrincipal(await this.accounts.profileOf(loggedIn.user), this.clock.now());
    return {
      user: principal,
      ...this.issuer.session(reply, loggedIn.session, loggedIn.token),
      stepUpToken: this.issuer.stepUp(reply, loggedIn.session),
    };
  }

  @S2Operation({
    summary: 'New access and refresh tokens',
    description:
      'The refresh token (cookie, or `Authorization: Bearer` on this route) rotates: each works once. Presenting one that was ' +
      'already rotated away revokes the whole session (beyond Singularity: a stolen refresh token is noticed).',
    path: '/api/auth/refresh',
    type: S2RefreshResponseDto,
    ok: { principal: S2_EXAMPLE_PRINCIPAL, accessToken: S2_EXAMPLE_JWT, refreshToken: S2_EXAMPLE_JWT },
    errors: [ErrorCode.RefreshTokenMissing, ErrorCode.RefreshTokenInvalid, ErrorCode.RefreshTokenExpired],
    tokens: { refresh: true },
  })
  @Post('refresh')
  @HttpCode(200)
  async refresh(
    @Req() request: FastifyRequest,
    @Body() _body: SessionInfoDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<S2RefreshResponseDto> {
    let claims;
    try {
      claims = this.tokens.read('refresh', request);
    } catch (error) {
      throw error instanceof TokenError ? tokenFailure(error) : error;
    }
    const next = await this.sessions.rotateRefreshToken(claims.session, claims.jti);
    if (!next) throw new DomainError(ErrorCode.RefreshTokenInvalid, 'Refresh token does not correspond to an existing session');
    const found = await this.sessions.findLiveSession(claims.session);
    if (!found || found.user.id !== claims.sub)
      throw new DomainError(ErrorCode.RefreshTokenInvalid, 'Refresh token does not correspond to an existing session');
    const principal = presentPrincipal(await this.accounts.profileOf(found.user), this.clock.now());
    return { principal, ...this.issuer.session(reply, found.session, next) };
  }

  @S2Operation({
    summary: 'Log out',
    description: 'Ends the session of the access token (if any, at once) and clears every token cookie.',
    path: '/api/auth/logout',
    type: S2SuccessResponseDto,
    ok: { success: true },
  })
  @Post('logout')
  @HttpCode(200)
  @S2Auth({ access: 'lenient' })
  async logout(@S2() s2: S2Context, @Res({ passthrough: true }) reply: FastifyReply): Promise<S2SuccessResponseDto> {
    if (s2.access) await this.login.logout(s2.access.session.id);
    this.issuer.clearAll(reply);
    return { success: true };
  }

  @S2Operation({
    summary: 'Step up: prove it is you again before a sensitive action',
    description:
      'The password; a user with a second factor then gets `twoFactorRequired` and a two-factor token (the code is mailed ' +
      'now when the preferred method is email): finish with 2fa/step-up. The step-up token is bound to this session.',
    path: '/api/auth/step-up',
    type: S2StepUpResponseDto,
    ok: presentStepUp({ stepUpToken: S2_EXAMPLE_JWT }),
    errors: [
      ...ACCESS_ERRORS,
      ErrorCode.InvalidCredentials,
      ErrorCode.NoPasswordProvider,
      ErrorCode.TwoFactorLocked,
      ...SERVER_ERRORS,
      ErrorCode.RateLimitUnavailable,
    ],
    tokens: { access: true },
  })
  @Post('step-up')
  @HttpCode(200)
  @CodeCheck()
  @S2Auth({ access: 'required' })
  async stepUp(
    @Body() body: StepUpDto,
    @Query() query: LocaleQueryDto,
    @S2Access() access: AuthenticatedSession,
    @S2Client() client: ClientInfo,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<S2StepUpResponseDto> {
    if (body.password === undefined) throw new DomainError(ErrorCode.InvalidCredentials, 'The password is needed');
    const started = await this.stepUps.start(access, body.password, contextOf(client, query.locale));
    if (started.status === 'stepped-up') return presentStepUp({ stepUpToken: this.issuer.stepUp(reply, access.session) });
    return presentStepUp({
      twoFactorMethods: started.state.available,
      preferredTwoFactorMethod: started.state.method === 'totp' || started.state.method === 'email' ? started.state.method : null,
      twoFactorAuthenticationToken: this.issuer.twoFactor(
        reply,
        access.user.id,
        started.challenge.id,
        'step_up',
        access.session.id,
      ),
    });
  }

  @S2Operation({
    summary: 'Finish a step-up with the second factor',
    path: '/api/auth/2fa/step-up',
    type: S2StepUpResponseDto,
    ok: presentStepUp({ stepUpToken: S2_EXAMPLE_JWT }),
    errors: [
      ...ACCESS_ERRORS,
      ...TWO_FACTOR_TOKEN_ERRORS,
      ErrorCode.TwoFactorCodeMissing,
      ErrorCode.TwoFactorInvalid,
      ErrorCode.TwoFactorCodeExpired,
      ErrorCode.TwoFactorMaxAttempts,
      ErrorCode.RateLimitUnavailable,
    ],
    tokens: { access: true, twoFactor: true },
  })
  @Post('2fa/step-up')
  @HttpCode(200)
  @CodeCheck()
  @S2Auth({ access: 'required', twoFactor: 'required' })
  async secondFactorStepUp(
    @Body() body: SecondFactorCodesDto,
    @S2() s2: S2Context,
    @S2Access() access: AuthenticatedSession,
    @S2Client() client: ClientInfo,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<S2StepUpResponseDto> {
    const claims = s2.twoFactor!;
    // The two-factor token of this very user's step-up in this very session.
    if (claims.purpose !== 'step_up' || claims.sub !== access.user.id || claims.session !== access.session.id) {
      throw new DomainError(ErrorCode.TwoFactorTokenInvalid, 'The two-factor token belongs to another attempt');
    }
    await this.stepUps.finish(access, claims.challenge, attemptOf(body), contextOf(client));
    this.issuer.clearTwoFactor(reply);
    return presentStepUp({ stepUpToken: this.issuer.stepUp(reply, access.session) });
  }

  @S2Operation({
    summary: 'What the presented tokens prove',
    path: '/api/auth/status',
    type: S2StatusResponseDto,
    ok: {
      authenticated: true,
      stepUp: false,
      emailVerified: true,
      twoFactorRequired: false,
      preferredTwoFactorMethod: 'email',
      twoFactorMethods: ['email'],
      sessionId: S2_EXAMPLE_SESSION_ID,
    },
    errors: [ErrorCode.AccessTokenInvalid, ErrorCode.AccessTokenExpired],
    tokens: { access: true, stepUp: true, twoFactor: true, optional: true },
  })
  @Get('status')
  @S2Auth({ access: 'checked' })
  async status(@Req() request: FastifyRequest, @S2() s2: S2Context): Promise<S2StatusResponseDto> {
    const stepUp = this.valid('step-up', request);
    const twoFactor = this.valid('two-factor', request);
    const access = s2.access;
    const subject: User | null = access?.user ?? null;
    const profile = subject ? await this.accounts.profileOf(subject, access?.snapshot) : null;
    return {
      authenticated: Boolean(access),
      stepUp: Boolean(access && stepUp && stepUp.sub === access.user.id && stepUp.session === access.session.id),
      emailVerified: profile ? profile.emails.some((email) => email.isPrimary && email.verifiedAt !== null) : null,
      twoFactorRequired: Boolean(twoFactor),
      preferredTwoFactorMethod: profile?.preferredMethod ?? null,
      twoFactorMethods: profile?.methods ?? null,
      sessionId: access?.session.id ?? null,
    };
  }

  /** The claims of a token of the type when the request carries a good one; null otherwise (status never fails on these). */
  private valid<T extends 'step-up' | 'two-factor'>(type: T, request: FastifyRequest) {
    // Most status requests carry neither: no error built and caught for those.
    if (!this.tokens.carries(type, request)) return null;
    try {
      return this.tokens.read(type, request);
    } catch (error) {
      if (error instanceof TokenError) return null;
      throw error;
    }
  }

  private loginAttempt(s2: S2Context) {
    const claims = s2.twoFactor!;
    if (claims.purpose !== 'login')
      throw new DomainError(ErrorCode.TwoFactorTokenInvalid, 'The two-factor token belongs to a step-up');
    return claims;
  }
}
