import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, type Credentials, sha256, uniqueName } from './helpers/api.js';
import { totp } from './helpers/rfc6238.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

/** Everything the process writes to stdout and stderr while `work` runs. */
async function capturingOutput(work: () => Promise<void>): Promise<string> {
  const output: string[] = [];
  const originals = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
  const capture =
    (original: typeof process.stdout.write) =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
    };
  process.stdout.write = capture(originals.out) as typeof process.stdout.write;
  process.stderr.write = capture(originals.err) as typeof process.stderr.write;
  try {
    await work();
  } finally {
    process.stdout.write = originals.out;
    process.stderr.write = originals.err;
  }
  return output.join('');
}

/**
 * Full flows of surface 1 at the production log level and at the most verbose one: no password,
 * digest, code, token, TOTP secret, backup code or challenge id used may appear in the output.
 */
for (const level of ['log', 'verbose'] as const) {
  describe(`secrets never reach the log (LOG_LEVEL=${level})`, () => {
    let t: TestApp;
    let api: Api;
    beforeAll(async () => {
      t = await createTestApp({ LOG_LEVEL: level });
      api = new Api(t.baseUrl);
    });
    afterAll(async () => t?.close());

    it('register, verify, login with a code, a challenge, tokens, TOTP, backup codes, password change, deletion', async () => {
      const secrets: string[] = [];
      const keep = <T extends string>(value: T): T => {
        secrets.push(value);
        return value;
      };
      const codeFor = async (email: string, before: number) => {
        const code = await t.mail.codeFor(email, { after: before });
        keep(code);
        keep(code.replace('-', ''));
        return code;
      };
      const agent = { 'user-agent': `secrets/${level}` };
      const username = uniqueName('secret');
      const email = `${username}@example.com`;
      const password = keep(`Secret-Passphrase-${level}-7Q2x`);
      keep(sha256(password));

      const output = await capturingOutput(async () => {
        const registered = await api.post('/api/v1/users.register', { username, email, pass: password, name: 'Secret Keeper' });
        expect(registered.status).toBe(200);
        const token = keep(new URL(await t.mail.linkFor(email)).searchParams.get('token')!);
        expect((await api.post('/api/v1/users.verifyEmail', { token })).status).toBe(200);

        let before = t.mail.messages.length;
        const asked = await api.post('/api/v1/login', { user: username, password }, { headers: agent });
        const challengeId = keep(asked.body.details.challengeId as string);
        const firstCode = await codeFor(email, before);
        const wrongCode = keep(firstCode === '111-111' ? '222-222' : '111-111');
        await api.post('/api/v1/login', { user: username, password, code: wrongCode }, { headers: agent });
        const loggedIn = await api.post('/api/v1/login', { user: username, password, code: firstCode }, { headers: agent });
        expect(loggedIn.status).toBe(200);
        const auth: Credentials = { userId: loggedIn.body.data.userId, authToken: keep(loggedIn.body.data.authToken) };
        keep(sha256(auth.authToken));

        before = t.mail.messages.length;
        const second = await api.post('/api/v1/login', { user: username, password }, { headers: agent });
        const secondChallenge = keep(second.body.details.challengeId as string);
        expect(secondChallenge).not.toBe(challengeId);
        const challengeCode = await codeFor(email, before);
        await api.post('/api/v1/twoFactorChallenges.verifyChallenge', { challengeId: secondChallenge, code: wrongCode });
        const viaChallenge = await api.post('/api/v1/twoFactorChallenges.verifyChallenge', {
          challengeId: secondChallenge,
          code: challengeCode,
        });
        expect(viaChallenge.status).toBe(200);
        keep(viaChallenge.body.loginToken);

        const pat = await api.post('/api/v1/users.generatePersonalAccessToken', { tokenName: 'ci' }, { auth, headers: agent });
        keep(pat.body.token);
        const regenerated = await api.post(
          '/api/v1/users.regeneratePersonalAccessToken',
          { tokenName: 'ci' },
          { auth, headers: agent },
        );
        keep(regenerated.body.token);
        expect((await api.post('/api/v1/login', { resume: auth.authToken })).status).toBe(200);

        const setup = await api.post('/api/v1/users.2fa.enableTOTP', undefined, { auth, headers: agent });
        const secret = keep(setup.body.secret as string);
        const totpCode = keep(totp(secret, t.clock.now()));
        const validated = await api.post('/api/v1/users.2fa.validateTOTP', { code: totpCode }, { auth, headers: agent });
        expect(validated.status).toBe(200);
        const backupCodes = (validated.body.backupCodes as string[]).map(keep);
        t.clock.advance(31);
        const withBackup = await api.post('/api/v1/users.2fa.regenerateBackupCodes', undefined, {
          auth,
          headers: { ...agent, 'x-2fa-method': 'totp', 'x-2fa-code': backupCodes[0]! },
        });
        expect(withBackup.status).toBe(200);
        (withBackup.body.backupCodes as string[]).forEach(keep);

        const newPassword = keep(`New-Secret-Passphrase-${level}-9Z`);
        keep(sha256(newPassword));
        const changed = await api.post(
          '/api/v1/users.updateOwnBasicInfo',
          { data: { newPassword, currentPassword: sha256(password) } },
          { auth, headers: { ...agent, 'x-2fa-method': 'totp', 'x-2fa-code': keep(totp(secret, t.clock.now())) } },
        );
        expect(changed.status).toBe(200);
        // Hostile and malformed input with secrets in it.
        await api.post('/api/v1/login', undefined, {
          rawBody: `{"user":"${username}","password":"${newPassword}"`,
          headers: agent,
        });
        await api.post('/api/v1/login', { user: `${username}\u0000`, password: newPassword }, { headers: agent });
        await api.get('/api/v1/me', { auth: { userId: auth.userId, authToken: keep(`${auth.authToken}x`) } });

        t.clock.advance(31);
        const deleted = await api.post(
          '/api/v1/users.deleteOwnAccount',
          { password: sha256(newPassword) },
          { auth, headers: { ...agent, 'x-2fa-method': 'totp', 'x-2fa-code': keep(totp(secret, t.clock.now())) } },
        );
        expect(deleted.status).toBe(200);
      });

      // The flows did log at this level (the capture works, the level is in force).
      expect(output).toContain('Delivered message');
      if (level === 'verbose') expect(output).toContain('second_factor_verified (success)');
      for (const value of new Set(secrets)) {
        expect(value.length).toBeGreaterThanOrEqual(6);
        // Whole words only: a six-digit code must not be "found" inside a timestamp or a port.
        const pattern = new RegExp(`(?<![\\w-])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`);
        expect(pattern.test(output), `a secret of length ${value.length} appears in the log`).toBe(false);
      }
    });
  });
}
