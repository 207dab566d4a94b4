import { Inject, Injectable } from '@nestjs/common';
import { addSeconds, Clock } from '../../common/clock.js';
import { DomainError, ErrorCode } from '../../common/domain-error.js';
import { constantTimeEqualHex, SecretKeys } from '../../common/secret-keys.js';
import { AppConfig } from '../../config/app-config.js';

const VERSION = 'v1';

/**
 * Singularity's TOTP set-up token: it binds the set-up answered by GET 2fa/totp/setup (its user and
 * the pending secret's fingerprint) to the POST that confirms it, for TWO_FACTOR_TOKEN_TTL_SECONDS.
 * `v1.<user>.<expiry>.<fingerprint>.<mac>`; the MAC is an HMAC with a key of its own.
 */
@Injectable()
export class TotpSetupTokens {
  constructor(
    private readonly keys: SecretKeys,
    private readonly clock: Clock,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  issue(userId: string, fingerprint: string): string {
    const expires = Math.floor(addSeconds(this.clock.now(), this.config.TWO_FACTOR_TOKEN_TTL_SECONDS).getTime() / 1000);
    return [VERSION, userId, expires, fingerprint, this.mac(userId, expires, fingerprint)].join('.');
  }

  /** The fingerprint the token binds; TotpSetupTokenInvalid / TotpSetupTokenExpired otherwise. */
  verify(token: string, userId: string): string {
    const [version, owner, expires, fingerprint, mac, ...rest] = token.split('.');
    const invalid = new DomainError(ErrorCode.TotpSetupTokenInvalid, 'The TOTP set-up token is invalid');
    if (version !== VERSION || rest.length || !owner || !expires || !fingerprint || !mac || !/^\d{1,12}$/.test(expires))
      throw invalid;
    if (!constantTimeEqualHex(mac, this.mac(owner, Number(expires), fingerprint)) || owner !== userId) throw invalid;
    if (Number(expires) * 1000 <= this.clock.now().getTime()) {
      throw new DomainError(ErrorCode.TotpSetupTokenExpired, 'The TOTP set-up token is expired');
    }
    return fingerprint;
  }

  private mac(userId: string, expires: number, fingerprint: string): string {
    return this.keys.hmac('totp-setup-token', VERSION, userId, String(expires), fingerprint);
  }
}
