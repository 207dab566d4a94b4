import type { Session } from '../auth/session.entity.js';
import type { User } from '../users/user.entity.js';

export type SecondFactorMethod = 'totp' | 'email' | 'password';

/** Who is being checked: the user and, when the request carries one, the login session. */
export interface TwoFactorSubject {
  user: User;
  session?: Session | null;
}

/** What the client sent as its second factor (the `x-2fa-code` / `x-2fa-method` headers, or a body field). */
export interface TwoFactorAttempt {
  code?: string | null;
  method?: string | null;
}

/** The client the remembered second factor is bound to. */
export interface ClientInfo {
  ip: string;
  userAgent: string;
}

/** The `details` of totp-required / totp-invalid / totp-max-attempts. */
export interface TwoFactorChallengeDetails {
  method: SecondFactorMethod;
  codeGenerated: boolean;
  codeCount?: number;
  codeExpires?: string;
  emailOrUsername: string;
  availableMethods: SecondFactorMethod[];
  [key: string]: unknown;
}

export interface TwoFactorCheckOptions {
  /** Accept a second factor remembered on this session for this client. */
  rememberable: boolean;
  /**
   * With no method enabled, ask for the password (routes). Login passes false: the password was
   * just given, so a user without a method needs nothing more.
   */
  passwordFallback: boolean;
}

export type TwoFactorOutcome = 'bypassed' | 'remembered' | 'verified' | 'not-required';

export const REQUIRES_2FA = 'two-factor:requires';

export interface Requires2FAOptions {
  /**
   * Accept a second factor given on this session by the same client within REMEMBER_2FA_SECONDS.
   * Default true; false for actions that must ask every time (disabling 2FA, deleting the account).
   */
  rememberable?: boolean;
  /**
   * Ask a user without any second factor for the password (default true). False: such a user
   * passes, and only users who have a method must use it (for enrolling a first method).
   */
  passwordFallback?: boolean;
}
