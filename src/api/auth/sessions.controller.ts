import { Delete, Get, HttpCode, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { AuthenticatedSession } from '../../auth/sessions.service.js';
import { SessionsService } from '../../auth/sessions.service.js';
import { DomainError, ErrorCode } from '../../common/domain-error.js';
import { S2Access, S2Auth } from './s2-auth.guard.js';
import { ACCESS_ERRORS, S2Controller, S2Operation } from './s2-openapi.js';
import { S2SessionResponseDto, S2SuccessResponseDto } from './dto/s2-responses.dto.js';
import { S2_EXAMPLE_SESSION_ID } from './s2-examples.js';
import { presentSession } from './s2-presenters.js';
import { S2TokenIssuer } from './s2-token-issuer.js';

/** The caller's sessions: list them, end one, end all ("log out everywhere"). */
@S2Controller('api/users/me/sessions', 'sessions')
export class SessionsController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly issuer: S2TokenIssuer,
  ) {}

  @S2Operation({
    summary: "The caller's sessions, most recently used first",
    path: '/api/users/me/sessions',
    type: [S2SessionResponseDto],
    ok: [
      {
        id: S2_EXAMPLE_SESSION_ID,
        browser: 'Firefox 133',
        os: 'Linux',
        ipAddress: '192.0.2.10',
        lastActive: '2026-01-01T12:00:00.000Z',
      },
    ],
    errors: ACCESS_ERRORS,
    tokens: { access: true },
  })
  @Get()
  @S2Auth({ access: 'required' })
  async list(@S2Access() access: AuthenticatedSession): Promise<S2SessionResponseDto[]> {
    return (await this.sessions.listInteractiveSessions(access.user.id)).map(presentSession);
  }

  @S2Operation({
    summary: "End one of the caller's sessions (its tokens stop working at once)",
    path: '/api/users/me/sessions/{id}',
    type: S2SuccessResponseDto,
    ok: { success: true },
    errors: [...ACCESS_ERRORS, ErrorCode.NotFound],
    tokens: { access: true },
  })
  @Delete(':id')
  @HttpCode(200)
  @S2Auth({ access: 'required' })
  async revoke(
    @Param('id') id: string,
    @S2Access() access: AuthenticatedSession,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<S2SuccessResponseDto> {
    // Session ids are 17 characters of Meteor's alphabet (32 at most in the column): anything else is no session of theirs.
    if (!/^[0-9A-Za-z]{1,32}$/.test(id) || !(await this.sessions.revokeOwnSession(access.user.id, id))) {
      throw new DomainError(ErrorCode.NotFound, 'No such session');
    }
    if (id === access.session.id) this.issuer.clearAll(reply);
    return { success: true };
  }

  @S2Operation({
    summary: 'Log out everywhere: end every session of the caller',
    description: "Login tokens of surface 1 too; personal access tokens stay. Clears this client's cookies.",
    path: '/api/users/me/sessions',
    type: S2SuccessResponseDto,
    ok: { success: true },
    errors: ACCESS_ERRORS,
    tokens: { access: true },
  })
  @Delete()
  @HttpCode(200)
  @S2Auth({ access: 'required' })
  async revokeAll(
    @S2Access() access: AuthenticatedSession,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<S2SuccessResponseDto> {
    await this.sessions.revokeOtherLoginSessions(access.user.id, null);
    this.issuer.clearAll(reply);
    return { success: true };
  }
}
