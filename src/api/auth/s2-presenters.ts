import type { Profile } from '../../account/account.service.js';
import type { Session } from '../../auth/session.entity.js';
import type { EnableableMethod } from '../../two-factor/two-factor.types.js';
import type {
  S2LoginResponseDto,
  S2PrincipalResponseDto,
  S2SessionResponseDto,
  S2StepUpResponseDto,
} from './dto/s2-responses.dto.js';

/** Singularity's PrincipalResponse: the user as its clients know them; never a secret. */
export const presentPrincipal = (profile: Profile, now: Date): S2PrincipalResponseDto => {
  const primary = profile.emails.find((email) => email.isPrimary) ?? profile.emails[0]!;
  return {
    id: profile.user.id,
    name: profile.user.name,
    email: primary.address,
    identityProviders: profile.user.passwordHash ? ['password'] : [],
    roles: profile.user.roles,
    emailVerified: primary.verifiedAt !== null,
    lastActive: now.toISOString(),
    twoFactorAuthEnabled: profile.methods.length > 0,
    preferredTwoFactorMethod: profile.preferredMethod,
    twoFactorMethods: profile.methods,
    createdAt: profile.user.createdAt.toISOString(),
  };
};

export type Principal = S2PrincipalResponseDto;

/** Singularity's LoginResponse: every field present, the ones that do not apply null. */
export const presentLogin = (fields: {
  user: Principal;
  accessToken?: string | null;
  refreshToken?: string | null;
  twoFactorMethods?: EnableableMethod[] | null;
  preferredTwoFactorMethod?: EnableableMethod | null;
  twoFactorAuthenticationToken?: string | null;
}): S2LoginResponseDto => ({
  user: fields.user,
  accessToken: fields.accessToken ?? null,
  refreshToken: fields.refreshToken ?? null,
  twoFactorRequired: Boolean(fields.twoFactorAuthenticationToken),
  twoFactorMethods: fields.twoFactorMethods ?? null,
  preferredTwoFactorMethod: fields.preferredTwoFactorMethod ?? null,
  twoFactorAuthenticationToken: fields.twoFactorAuthenticationToken ?? null,
  // Singularity's geolocation of the client; this service does not look addresses up.
  location: null,
});

export const presentStepUp = (fields: {
  stepUpToken?: string | null;
  twoFactorMethods?: EnableableMethod[] | null;
  preferredTwoFactorMethod?: EnableableMethod | null;
  twoFactorAuthenticationToken?: string | null;
}): S2StepUpResponseDto => ({
  stepUpToken: fields.stepUpToken ?? null,
  twoFactorRequired: Boolean(fields.twoFactorAuthenticationToken),
  twoFactorMethods: fields.twoFactorMethods ?? null,
  preferredTwoFactorMethod: fields.preferredTwoFactorMethod ?? null,
  twoFactorAuthenticationToken: fields.twoFactorAuthenticationToken ?? null,
});

export const presentSession = (session: Session): S2SessionResponseDto => ({
  id: session.id,
  browser: session.browser,
  os: session.os,
  ipAddress: session.ip || null,
  lastActive: (session.lastUsedAt ?? session.createdAt).toISOString(),
});
