import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, uniqueName, type TestUser } from './helpers/api.js';
import type { ReceivedMail } from './helpers/smtp-sink.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

/**
 * API.md "Emails": every email in the user's locale. users.register?locale= stores the locale;
 * the verification mail and every later code mail use it. The app runs with DEFAULT_LOCALE=fr so
 * that falling back to the default is visible (it is not English).
 */

const CODE = /\b(\d{3}-\d{3})\b/;

interface Wording {
  lang: string;
  verifySubject: string;
  verifyText: string[];
  codeSubject: string;
  codeText: string[];
}

/** What each locale's mails say (EMAIL_CODE_TTL_SECONDS=600, EMAIL_VERIFICATION_TTL_SECONDS default). */
const WORDING: Record<'en' | 'de' | 'fr' | 'pt-BR', Wording> = {
  en: {
    lang: 'en',
    verifySubject: 'Confirm your email address',
    verifyText: ['Open this link to confirm that'],
    codeSubject: 'Two-factor authentication: your verification code',
    codeText: ['The code expires in 10 minutes', 'Do not share this code with anyone.'],
  },
  de: {
    lang: 'de',
    verifySubject: 'Bestätigen Sie Ihre E-Mail-Adresse',
    verifyText: ['Öffnen Sie diesen Link, um zu bestätigen, dass'],
    codeSubject: 'Zwei-Faktor-Authentifizierung: Ihr Bestätigungscode',
    codeText: [
      'Verwenden Sie diesen Code, um den Vorgang „Zwei-Faktor-Authentifizierung“ abzuschließen:',
      'Der Code ist 10 Minuten lang gültig',
      'Geben Sie diesen Code an niemanden weiter.',
    ],
  },
  fr: {
    lang: 'fr',
    verifySubject: 'Confirmez votre adresse e-mail',
    verifyText: ['Ouvrez ce lien pour confirmer que'],
    codeSubject: 'Authentification à deux facteurs : votre code de vérification',
    codeText: ['Le code expire dans 10 minutes', 'Ne communiquez ce code à personne.'],
  },
  'pt-BR': {
    lang: 'pt-BR',
    verifySubject: 'Confirme seu endereço de e-mail',
    verifyText: ['Abra este link para confirmar que'],
    codeSubject: 'Autenticação de dois fatores: seu código de verificação',
    codeText: ['O código expira em 10 minutos', 'Não compartilhe este código com ninguém.'],
  },
};

/** The HTML part as a reader sees its text (handlebars escapes "=" in links as &#x3D;). */
const decodeHtml = (html: string): string =>
  html
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(parseInt(dec, 10)))
    .replaceAll('&quot;', '"')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');

describe('email locale (users.register?locale=)', () => {
  let t: TestApp;
  let api: Api;
  beforeAll(async () => {
    t = await createTestApp({ DEFAULT_LOCALE: 'fr' });
    api = new Api(t.baseUrl);
  });
  afterAll(async () => t?.close());

  const registerPath = (query: string | undefined) => `/api/v1/users.register${query === undefined ? '' : `?${query}`}`;

  /** Registers with the given query string and returns the user and the verification mail. */
  async function register(query: string | undefined): Promise<{ user: TestUser; body: any; mail: ReceivedMail }> {
    const username = uniqueName('loc');
    const user = { username, email: `${username}@example.com`, password: 'correct horse battery', userId: '' };
    const before = t.mail.messages.length;
    const res = await api.post(registerPath(query), {
      username,
      email: user.email,
      pass: user.password,
      name: `Test ${username}`,
    });
    expect(res.status).toBe(200);
    user.userId = res.body.user._id;
    const mail = await t.mail.waitFor((m) => m.to.includes(user.email) && m.text.includes('/verify-email?token='), {
      after: before,
    });
    return { user, body: res.body, mail };
  }

  function expectVerificationMail(mail: ReceivedMail, user: TestUser, wording: Wording): string {
    expect(mail.subject).toBe(wording.verifySubject);
    const link = /(http:\/\/app\.test\/verify-email\?token=\S+)/.exec(mail.text)?.[1];
    expect(link).toBeDefined();
    expect(decodeHtml(mail.html)).toContain(link);
    expect(mail.html).toContain(`<html lang="${wording.lang}">`);
    for (const part of [mail.text, decodeHtml(mail.html)]) {
      expect(part).toContain(user.email);
      for (const phrase of wording.verifyText) expect(part).toContain(phrase);
    }
    return link!;
  }

  async function verify(link: string): Promise<void> {
    const res = await api.post('/api/v1/users.verifyEmail', { token: new URL(link).searchParams.get('token') });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true });
  }

  function expectCodeMail(mail: ReceivedMail, wording: Wording): string {
    const code = CODE.exec(mail.text)?.[1];
    expect(code).toBeDefined();
    expect(mail.subject).toBe(wording.codeSubject);
    expect(mail.subject).not.toMatch(/\d{3}-?\d{3}/);
    expect(mail.html).toContain(`<html lang="${wording.lang}">`);
    for (const part of [mail.text, decodeHtml(mail.html)]) {
      expect(part).toContain(code);
      for (const phrase of wording.codeText) expect(part).toContain(phrase);
    }
    return code!;
  }

  /** Logs in: the 2FA challenge mails a code; the code from that mail completes the login. */
  async function loginCodeMail(user: TestUser): Promise<ReceivedMail> {
    const before = t.mail.messages.length;
    const first = await api.post('/api/v1/login', { user: user.username, password: user.password });
    expect(first.status).toBe(401);
    expect(first.body).toMatchObject({
      status: 'error',
      error: 'totp-required',
      details: { method: 'email', codeGenerated: true },
    });
    const mail = await t.mail.waitFor((m) => m.to.includes(user.email) && CODE.test(m.text), { after: before });
    const code = CODE.exec(mail.text)![1]!;
    const second = await api.post('/api/v1/login', { user: user.username, password: user.password, code });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ status: 'success', data: { userId: user.userId } });
    return mail;
  }

  it('?locale=de: the verification mail and later every code mail are in German', async () => {
    const { user, body, mail } = await register('locale=de');
    expect(body.user).toMatchObject({ _id: user.userId, username: user.username, language: 'de' });
    await verify(expectVerificationMail(mail, user, WORDING.de));

    expectCodeMail(await loginCodeMail(user), WORDING.de);

    // A code asked for outside the login (users.2fa.sendEmailCode) is German too.
    t.clock.advance(t.config.EMAIL_CODE_RESEND_AFTER_SECONDS + 1);
    const before = t.mail.messages.length;
    const sent = await api.post('/api/v1/users.2fa.sendEmailCode', { emailOrUsername: user.username });
    expect(sent.status).toBe(200);
    expect(sent.body).toEqual({ success: true });
    expectCodeMail(await t.mail.waitFor((m) => m.to.includes(user.email) && CODE.test(m.text), { after: before }), WORDING.de);
  });

  it.each([
    ['an unknown locale (?locale=xx)', 'locale=xx', 'xx'],
    ['an unknown region of an unknown language (?locale=xx-YY)', 'locale=xx-YY', 'xx-YY'],
    ['no locale', undefined, undefined],
  ])('%s: the mails are in DEFAULT_LOCALE (fr here)', async (_label, query, stored) => {
    const { user, body, mail } = await register(query);
    expect(body.user.language).toBe(stored);
    await verify(expectVerificationMail(mail, user, WORDING.fr));
    expectCodeMail(await loginCodeMail(user), WORDING.fr);
  });

  it.each([
    ['pt', 'locale=pt'],
    ['pt-BR', 'locale=pt-BR'],
    ['pt-br (tags are case-insensitive)', 'locale=pt-br'],
    ['pt-PT (another region of Portuguese)', 'locale=pt-PT'],
  ])('?locale=%s: the mails are in Brazilian Portuguese', async (_label, query) => {
    const { user, mail } = await register(query);
    await verify(expectVerificationMail(mail, user, WORDING['pt-BR']));
    expectCodeMail(await loginCodeMail(user), WORDING['pt-BR']);
  });

  it('?locale=de-AT uses German, and ?locale=en English although DEFAULT_LOCALE is fr', async () => {
    const austrian = await register('locale=de-AT');
    expectVerificationMail(austrian.mail, austrian.user, WORDING.de);
    const english = await register('locale=en');
    await verify(expectVerificationMail(english.mail, english.user, WORDING.en));
    expectCodeMail(await loginCodeMail(english.user), WORDING.en);
  });

  describe('an invalid locale parameter is 400 invalid-params and creates nothing', () => {
    it.each([
      ['empty', 'locale='],
      ['one letter', 'locale=d'],
      ['an underscore', 'locale=de_DE'],
      ['a trailing dash', 'locale=de-'],
      ['too long', `locale=${encodeURIComponent('de-abcdefgh-abcdefgh')}`],
      ['a path', `locale=${encodeURIComponent('../../etc/passwd')}`],
      ['markup', `locale=${encodeURIComponent('<script>')}`],
      ['a header injection', `locale=${encodeURIComponent('de\r\nBcc: x@example.com')}`],
      ['given twice', 'locale=de&locale=fr'],
    ])('%s', async (_label, query) => {
      const username = uniqueName('bad');
      const body = { username, email: `${username}@example.com`, pass: 'correct horse battery', name: 'Bad Locale' };
      const res = await api.post(registerPath(query), body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ success: false, error: 'locale is invalid [invalid-params]', errorType: 'invalid-params' });
      // Nothing was created: the same registration with a valid locale goes through.
      const again = await api.post(registerPath('locale=de'), body);
      expect(again.status).toBe(200);
      expect(again.body.user).toMatchObject({ username, language: 'de' });
    });

    it('an unknown query parameter is ignored, like an unknown body field (it sets nothing)', async () => {
      const username = uniqueName('bad');
      const res = await api.post(registerPath('lang=de'), {
        username,
        email: `${username}@example.com`,
        pass: 'correct horse battery',
        name: 'X',
      });
      expect(res.status).toBe(200);
      expect(res.body.user.language).toBeUndefined();
    });
  });
});
