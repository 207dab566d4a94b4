import { describe, expect, it } from 'vitest';
import type { DataSource, EntityManager } from 'typeorm';
import { base32Decode, totp } from '../../test/helpers/rfc6238.js';
import { Clock } from '../common/clock.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { encrypt } from '../common/aes-gcm.js';
import { SecretKeys } from '../common/secret-keys.js';
import { AppConfig } from '../config/app-config.js';
import { normalizeTotpCode, TotpService } from './totp.service.js';
import type { TotpRow, TwoFactorMethodsRepository } from './repositories/two-factor-methods.repository.js';

class FixedClock extends Clock {
  constructor(public at: number) {
    super();
  }
  now(): Date {
    return new Date(this.at);
  }
}

const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'; // 20 bytes
const keys = new SecretKeys('unit-test-secret-unit-test-secret-0123456789');
/** 1 s into a 30 s step. */
const T = 1_700_000_011_000;

/** A TotpService over a fake repository holding one TOTP row; writes are recorded and applied as the SQL would. */
function harness(row: Partial<TotpRow> | null) {
  const clock = new FixedClock(T);
  const state: TotpRow | null = row
    ? {
        id: '1',
        status: 'enabled',
        lastTotpStep: null,
        secretEncrypted: encrypt(keys.key('totp-encryption'), SECRET, 'totp:u1'),
        ...row,
      }
    : null;
  const updates: unknown[][] = [];
  const repository = {
    findTotp: async () => (state ? { ...state } : null),
    useTotpStep: async (_db: EntityManager, id: string, step: number) => {
      updates.push([id, step]);
      if (!state || state.status !== 'enabled' || (state.lastTotpStep !== null && state.lastTotpStep >= step)) return false;
      state.lastTotpStep = step;
      return true;
    },
    enableTotp: async (_db: EntityManager, id: string, sealed: string, step: number) => {
      updates.push([id, sealed, step]);
      if (!state || state.status !== 'pending' || state.secretEncrypted !== sealed) return false;
      state.status = 'enabled';
      state.lastTotpStep = step;
      return true;
    },
  } as unknown as TwoFactorMethodsRepository;
  const manager = {} as EntityManager;
  const dataSource = { manager } as unknown as DataSource;
  const service = new TotpService(dataSource, repository, keys, clock, new AppConfig());
  return { service, clock, state, updates, manager };
}

const codeAt = (offsetSeconds: number) => totp(SECRET, T + offsetSeconds * 1000);

describe('normalizeTotpCode', () => {
  it.each([
    ['123456', '123456'],
    ['123 456', '123456'],
    [' 123-456 ', '123456'],
  ])('accepts %j', (input, expected) => expect(normalizeTotpCode(input)).toBe(expected));
  it.each(['', '12345', '1234567', 'abcdef', 'K7M2QX9WRT'])('refuses %j', (input) => expect(normalizeTotpCode(input)).toBeNull());
});

describe('TotpService.verify', () => {
  it('agrees with the independent RFC 6238 implementation and records the step', async () => {
    const { service, state } = harness({});
    expect(base32Decode(SECRET)).toHaveLength(20);
    await expect(service.verify('u1', codeAt(0))).resolves.toBe(true);
    expect(state!.lastTotpStep).toBe(Math.floor(T / 30_000));
  });

  it('accepts one step either side, refuses two', async () => {
    for (const [offset, expected] of [
      [-60, false],
      [-30, true],
      [30, true],
      [60, false],
    ] as const) {
      const { service } = harness({});
      await expect(service.verify('u1', codeAt(offset)), `offset ${offset}`).resolves.toBe(expected);
    }
  });

  it('refuses the accepted step and every earlier one', async () => {
    const { service, clock } = harness({});
    await expect(service.verify('u1', codeAt(0))).resolves.toBe(true);
    await expect(service.verify('u1', codeAt(0))).resolves.toBe(false);
    await expect(service.verify('u1', codeAt(-30))).resolves.toBe(false);
    clock.at += 30_000;
    await expect(service.verify('u1', codeAt(0))).resolves.toBe(false);
    await expect(service.verify('u1', codeAt(30))).resolves.toBe(true);
  });

  it('refuses everything, without throwing, once the last step of the window is used', async () => {
    const { service, updates } = harness({ lastTotpStep: Math.floor(T / 30_000) + 1 });
    for (const offset of [-30, 0, 30]) await expect(service.verify('u1', codeAt(offset))).resolves.toBe(false);
    expect(updates).toEqual([]);
  });

  it('refuses malformed input and users without an enabled TOTP', async () => {
    const { service } = harness({});
    for (const input of ['', '12345', 'abcdef', '1234567']) await expect(service.verify('u1', input)).resolves.toBe(false);
    await expect(harness({ status: 'pending' }).service.verify('u1', codeAt(0))).resolves.toBe(false);
    await expect(harness(null).service.verify('u1', codeAt(0))).resolves.toBe(false);
  });
});

describe('TotpService.confirm', () => {
  it('turns a pending secret on with a right code and records its step', async () => {
    const { service, manager, state } = harness({ status: 'pending' });
    await service.confirm(manager, 'u1', codeAt(0));
    expect(state).toMatchObject({ status: 'enabled', lastTotpStep: Math.floor(T / 30_000) });
  });

  it('answers InvalidCode for a wrong code or no pending set-up, TotpAlreadyEnabled once on', async () => {
    const pending = harness({ status: 'pending' });
    await expect(pending.service.confirm(pending.manager, 'u1', codeAt(90))).rejects.toMatchObject({
      code: ErrorCode.InvalidCode,
    });
    const none = harness(null);
    await expect(none.service.confirm(none.manager, 'u1', codeAt(0))).rejects.toMatchObject({ code: ErrorCode.InvalidCode });
    const enabled = harness({});
    const error = await enabled.service.confirm(enabled.manager, 'u1', codeAt(0)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: ErrorCode.TotpAlreadyEnabled });
  });
});
