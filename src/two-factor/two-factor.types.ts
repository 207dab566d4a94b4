import type { Session } from '../auth/session.entity.js';
import type { AccountSnapshot } from '../users/account-snapshot.js';
import type { User } from '../users/user.entity.js';

/** The methods a user turns on, in the order they are offered: the authenticator app first. */
export const ENABLEABLE_METHODS = ['totp', 'email'] as const;
export type EnableableMethod = (typeof ENABLEABLE_METHODS)[number];

/**
 * Every way to give a second factor: the enabled methods, a backup (recovery) code of a TOTP
 * user, and the password, which stands in only for a user with no method at all.
 */
export type SecondFactorMethod = EnableableMethod | 'backup' | 'password';

/**
 * Who is being checked: the user and, when the request carries one, the login session. With the
 * account snapshot read alongside the user (an authenticated request, a login), the methods and
 * addresses are not read again.
 */
export interface TwoFactorSubject {
  user: User;
  session?: Session | null;
  snapshot?: AccountSnapshot;
}

/** What the client sent as its second factor, read by each surface in its own terms. */
export interface TwoFactorAttempt {
  code?: string | null;
  /**
   * The method the client names (a SecondFactorMethod; anything else is refused as a wrong code);
   * the one offered when absent.
   */
  method?: string | null;
}

/** The client the remembered second factor is bound to. */
export interface ClientInfo {
  ip: string;
  userAgent: string;
}

/** What a code by email looks like after a send (or a send skipped inside the resend window). */
export interface EmailCodeDelivery {
  /** A new code went out with this request. */
  sent: boolean;
  /** Valid codes the user holds now. */
  outstanding: number;
  /** Expiry of the newest valid code. */
  expiresAt: Date | null;
  /** Seconds before another code may be sent (EMAIL_CODE_RESEND_AFTER_SECONDS after the newest). */
  cooldownSeconds: number;
}

/**
 * Where a user's second factor stands, in no surface's terms: the method asked for, the methods
 * the user has, where codes go, what was mailed, whether the account is locked. Each surface turns
 * it into its own answer (Rocket.Chat's `details`, Singularity's LoginResponse fields).
 */
export interface TwoFactorState {
  method: SecondFactorMethod;
  available: EnableableMethod[];
  /** Verified addresses: where email codes go (first: the primary one). */
  addresses: string[];
  username: string;
  /** For the email method. */
  email?: EmailCodeDelivery;
  lockedUntil?: Date;
  /** The pending attempt (a challenge) the answer belongs to, when there is one. */
  challengeId?: string;
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
