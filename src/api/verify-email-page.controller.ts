import { Body, Controller, Get, Header, HttpCode, Post, Query } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { DomainError } from '../common/domain-error.js';
import { UsersService } from '../users/users.service.js';

const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

const page = (title: string, body: string): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${title}</title></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 4rem auto; color: #1f2329;">
<h1 style="font-size: 1.4rem;">${title}</h1>${body}</body></html>`;

/**
 * The link in the verification email opens a page whose button confirms with a POST: mail
 * scanners that fetch links must not verify addresses by themselves.
 */
@ApiExcludeController()
@Controller('verify-email')
export class VerifyEmailPageController {
  constructor(private readonly users: UsersService) {}

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @Header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
  show(@Query('token') token?: string): string {
    if (typeof token !== 'string' || !token) return page('Invalid link', '<p>This verification link is incomplete.</p>');
    return page(
      'Confirm your email address',
      `<form method="post" action="verify-email">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<button type="submit" style="font-size: 1rem; padding: .6rem 1.2rem;">Confirm my email address</button>
</form>`,
    );
  }

  @Post()
  @HttpCode(200)
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @Header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
  async confirm(@Body() body: { token?: unknown } | undefined): Promise<string> {
    const token = body?.token;
    try {
      if (typeof token !== 'string' || token.length > 128) throw new Error('missing token');
      await this.users.verifyEmail(token);
      return page('Email address confirmed', '<p>Thank you. You can close this page.</p>');
    } catch (error) {
      if (error instanceof DomainError || error instanceof Error) {
        return page('Link expired or invalid', '<p>This link is invalid or has expired. Ask for a new one from the app.</p>');
      }
      throw error;
    }
  }
}
