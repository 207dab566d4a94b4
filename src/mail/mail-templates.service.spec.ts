import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppConfig, SUPPORTED_LOCALES } from '../config/app-config.js';
import { MailTemplates, TEMPLATES_DIR, type MailTemplateName } from './mail-templates.service.js';

/**
 * Every template in every locale (API.md "Emails"): HTML and text parts, the code or link in
 * both, the text part not HTML-escaped, the HTML part escaping what users typed.
 */

const templates = new MailTemplates(new AppConfig());

const HOSTILE_NAME = '<script>alert("x")</script> & Sons';
const LINK = 'http://app.test/verify-email?token=abc-DEF_123=&next=a%2Fb';
const CODE = '123-456';

interface Sample {
  data: Record<string, unknown>;
  /** What the reader needs, verbatim, in both parts. */
  mustShow: string[];
}

/** 14:07 UTC on 5 March 2026: every locale writes the year as 2026, and the time with ":07". */
const AT = '2026-03-05T14:07:00Z';
const HOSTILE_BROWSER = '<img src=x onerror=alert(1)>';

/** Sample data per template; a new template needs an entry here (the test below says so). */
const SAMPLES: Record<MailTemplateName, Sample> = {
  'email-code': {
    data: { name: HOSTILE_NAME, formattedCode: CODE, purpose: 'two-factor', ttlMinutes: 10 },
    mustShow: [CODE, '10'],
  },
  'verify-email': {
    data: { name: HOSTILE_NAME, address: 'o.brien+tag@example.com', link: LINK, ttlHours: 24 },
    mustShow: [LINK, 'o.brien+tag@example.com', '24'],
  },
  'alert-new-login': {
    data: { name: HOSTILE_NAME, at: AT, browser: 'Firefox 126', os: 'Windows 11', ipAddress: '203.0.113.7' },
    mustShow: ['2026', ':07', 'UTC', 'Firefox 126', 'Windows 11', '203.0.113.7'],
  },
  'alert-password-changed': {
    data: { name: HOSTILE_NAME, at: AT },
    mustShow: ['2026', ':07', 'UTC'],
  },
  'alert-email-changed': {
    data: { name: HOSTILE_NAME, at: AT, oldAddress: 'o.brien+old@example.com', newAddress: 'ob&new@example.org' },
    mustShow: ['2026', ':07', 'UTC', 'o.brien+old@example.com', 'ob&new@example.org'],
  },
  'alert-two-factor-added': {
    data: { name: HOSTILE_NAME, at: AT, method: 'totp' },
    mustShow: ['2026', ':07', 'UTC'],
  },
  'alert-two-factor-removed': {
    data: { name: HOSTILE_NAME, at: AT, method: 'email' },
    mustShow: ['2026', ':07', 'UTC'],
  },
  'alert-recovery-code-used': {
    data: { name: HOSTILE_NAME, at: AT, remaining: 7 },
    mustShow: ['2026', ':07', 'UTC', ': 7'],
  },
  'alert-registration-attempt': {
    // No name: we do not know who asked. The address is what that stranger typed, so it carries
    // the hostile text the escaping tests look for.
    data: { at: AT, address: `${HOSTILE_NAME}@example.com` },
    mustShow: ['2026', ':07', 'UTC', `${HOSTILE_NAME}@example.com`],
  },
};

const ALERTS = (Object.keys(SAMPLES) as MailTemplateName[]).filter((name) => name.startsWith('alert-'));

/**
 * How each locale writes the sample instant and names the two-factor methods (in both parts of
 * the alerts). A new locale needs an entry here (the test below says so).
 */
const ALERT_WORDING: Record<string, { date: RegExp; totp: string; email: string }> = {
  en: { date: /March 5, 2026 at 2:07\sPM UTC/, totp: 'Authenticator app', email: 'Email codes' },
  de: { date: /5\. März 2026 um 14:07 UTC/, totp: 'Authenticator-App', email: 'Codes per E-Mail' },
  fr: { date: /5 mars 2026 à 14:07 UTC/, totp: "Application d'authentification", email: 'Codes par e-mail' },
  es: {
    date: /5 de marzo de 2026 a las 14:07 UTC/,
    totp: 'Aplicación de autenticación',
    email: 'Códigos por correo electrónico',
  },
  'pt-BR': { date: /5 de março de 2026 às 14:07 UTC/, totp: 'Aplicativo autenticador', email: 'Códigos por e-mail' },
};

/**
 * How each locale says "17 minutes" and "do not share this code" (in both parts of the code email).
 * A new locale needs an entry here (the test below says so).
 */
const CODE_MAIL_WORDING: Record<string, { minutes: RegExp; doNotShare: RegExp }> = {
  en: { minutes: /17 minutes/, doNotShare: /Do not share this code with anyone/ },
  de: { minutes: /17 Minuten/, doNotShare: /Geben Sie diesen Code an niemanden weiter/ },
  fr: { minutes: /17 minutes/, doNotShare: /Ne communiquez ce code à personne/ },
  es: { minutes: /17 minutos/, doNotShare: /No compartas este código con nadie/ },
  'pt-BR': { minutes: /17 minutos/, doNotShare: /Não compartilhe este código com ninguém/ },
};

/** What a locale directory holds on disk: file names, JSON keys, and the variables each file uses. */
const localeFiles = (locale: string) => {
  const dir = join(TEMPLATES_DIR, locale);
  const files = readdirSync(dir).sort();
  const keys = (file: string) => Object.keys(JSON.parse(readFileSync(join(dir, file), 'utf8')) as object).sort();
  const variables = Object.fromEntries(
    files.map((file) => [file, [...new Set(readFileSync(join(dir, file), 'utf8').match(/{{[^}]*}}/g) ?? [])].sort()]),
  );
  return { files, strings: keys('strings.json'), subjects: keys('subjects.json'), variables };
};

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
/** What a mail client shows for the HTML's text (entities decoded). */
const decodeHtml = (html: string): string =>
  html.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (entity, body: string) => {
    if (body.startsWith('#x') || body.startsWith('#X')) return String.fromCodePoint(parseInt(body.slice(2), 16));
    if (body.startsWith('#')) return String.fromCodePoint(parseInt(body.slice(1), 10));
    return ENTITIES[body.toLowerCase()] ?? entity;
  });

describe('MailTemplates', () => {
  it('knows the templates and at least English', () => {
    expect(templates.templateNames).toEqual(expect.arrayContaining(['email-code', 'verify-email']));
    expect(templates.locales).toContain('en');
  });

  it('has a template directory for exactly the supported locales (SUPPORTED_LOCALES, API.md "Emails")', () => {
    const directories = readdirSync(TEMPLATES_DIR, { withFileTypes: true });
    expect(directories.filter((entry) => !entry.isDirectory()).map((entry) => entry.name)).toEqual([]);
    expect(directories.map((entry) => entry.name).sort()).toEqual([...SUPPORTED_LOCALES].sort());
    expect([...templates.locales].sort()).toEqual([...SUPPORTED_LOCALES].sort());
  });

  describe.each(SUPPORTED_LOCALES.filter((locale) => locale !== 'en'))('%s is a complete translation of en', (locale) => {
    const english = localeFiles('en');
    const translated = localeFiles(locale);

    it('has the same template files', () => {
      expect(translated.files).toEqual(english.files);
    });

    it('has the same strings.json and subjects.json keys', () => {
      expect(translated.strings).toEqual(english.strings);
      expect(translated.subjects).toEqual(english.subjects);
    });

    it('uses the same handlebars variables in every file', () => {
      expect(translated.variables).toEqual(english.variables);
    });
  });

  it('has the code email wording for every locale in this test', () => {
    for (const locale of templates.locales) {
      expect(CODE_MAIL_WORDING[locale], `add the code email wording of "${locale}" to this test`).toBeDefined();
    }
  });

  it('has sample data for every template', () => {
    for (const name of templates.templateNames) {
      expect(SAMPLES[name], `add sample data for the template "${name}" to this test`).toBeDefined();
    }
  });

  it('has a template on disk for every MailTemplateName (SAMPLES is keyed by that type)', () => {
    expect([...templates.templateNames].sort()).toEqual(Object.keys(SAMPLES).sort());
    expect(ALERTS).toHaveLength(7);
  });

  it('has the alert wording for every locale in this test', () => {
    for (const locale of templates.locales) {
      expect(ALERT_WORDING[locale], `add the alert wording of "${locale}" to this test`).toBeDefined();
    }
  });

  it.each(SUPPORTED_LOCALES)('%s has every template as its own HTML part, text part and subject', (locale) => {
    const { files, subjects } = localeFiles(locale);
    for (const name of Object.keys(SAMPLES)) {
      expect(files).toContain(`${name}.html.hbs`);
      expect(files).toContain(`${name}.text.hbs`);
      expect(subjects).toContain(name);
    }
  });

  it.each(ALERTS)('%s uses only the data it is given (nothing else, so no secret, can slip in)', (name) => {
    // The other locales use the same variables (checked above), so English stands for all.
    const { variables } = localeFiles('en');
    const used = [...variables[`${name}.html.hbs`]!, ...variables[`${name}.text.hbs`]!]
      .map((mustache) => mustache.replace(/^{{[#/]?(if|else)?\s*|}}$/g, '').replace(/^formatDate\s+/, ''))
      .filter((variable) => variable !== '');
    const allowed = [...Object.keys(SAMPLES[name].data), 'methodTitle'];
    expect(used.filter((variable) => !allowed.includes(variable))).toEqual([]);
  });

  for (const locale of templates.locales) {
    for (const name of templates.templateNames) {
      describe(`${name} in ${locale}`, () => {
        const sample = SAMPLES[name];
        const mail = () => templates.render(name, locale, sample.data);

        it('has a subject, an HTML part and a text part', () => {
          const { subject, html, text } = mail();
          expect(subject.trim()).not.toBe('');
          expect(subject).not.toMatch(/[\r\n]/);
          expect(subject).not.toContain(CODE);
          expect(subject).not.toContain(LINK);
          expect(html).toMatch(/<html[\s>]/i);
          expect(/<html lang="([^"]+)"/.exec(html)?.[1]).toBe(locale);
          expect(text.trim()).not.toBe('');
          // No markup of the template's own (the user's name is shown as typed).
          expect(text.replaceAll(HOSTILE_NAME, '')).not.toMatch(/<\/?[a-z][^>]*>/i);
        });

        it('shows the code or link in both parts', () => {
          const { html, text } = mail();
          for (const needed of sample.mustShow) {
            expect(text).toContain(needed);
            expect(decodeHtml(html)).toContain(needed);
          }
        });

        it('does not HTML-escape the text part (a link with "=" and "&" stays as is)', () => {
          const { subject, text } = mail();
          expect(text).not.toMatch(/&(#x?[0-9a-f]+|amp|lt|gt|quot);/i);
          expect(subject).not.toMatch(/&(#x?[0-9a-f]+|amp|lt|gt|quot);/i);
          expect(text).toContain(HOSTILE_NAME);
        });

        it('escapes what the user typed in the HTML part', () => {
          const { html } = mail();
          expect(html).not.toContain('<script>');
          expect(html).toContain('&lt;script&gt;');
          expect(decodeHtml(html)).toContain(HOSTILE_NAME);
        });
      });
    }

    it(`alerts in ${locale} show the date and the method in the locale's words`, () => {
      const wording = ALERT_WORDING[locale]!;
      for (const [method, title] of [
        ['totp', wording.totp],
        ['email', wording.email],
      ] as const) {
        for (const name of ['alert-two-factor-added', 'alert-two-factor-removed'] as const) {
          const { html, text } = templates.render(name, locale, { ...SAMPLES[name].data, method });
          for (const part of [text, decodeHtml(html)]) {
            expect(part).toContain(title);
            expect(part).toMatch(wording.date);
            expect(part).not.toContain(AT);
          }
        }
      }
      for (const name of ALERTS) {
        const { html, text } = templates.render(name, locale, SAMPLES[name].data);
        expect(text).toMatch(wording.date);
        expect(decodeHtml(html)).toMatch(wording.date);
      }
    });

    it(`alert-new-login in ${locale} escapes a hostile browser and OS in HTML, and leaves out unknown ones`, () => {
      const data = { ...SAMPLES['alert-new-login'].data, browser: HOSTILE_BROWSER, os: `${HOSTILE_BROWSER} "OS"` };
      const { html, text } = templates.render('alert-new-login', locale, data);
      expect(html).not.toContain('<img');
      expect(html).toContain('&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
      expect(decodeHtml(html)).toContain(HOSTILE_BROWSER);
      expect(decodeHtml(html)).toContain(`${HOSTILE_BROWSER} "OS"`);
      // The text part is not HTML: shown as sent.
      expect(text).toContain(`${HOSTILE_BROWSER} "OS"`);

      const items = (mail: string) => mail.match(/<li>/g)?.length;
      const known = templates.render('alert-new-login', locale, SAMPLES['alert-new-login'].data);
      const unknown = templates.render('alert-new-login', locale, { ...data, browser: '', os: '' });
      expect(items(unknown.html)).toBe(items(known.html)! - 2);
      expect(unknown.text.split('\n').length).toBe(known.text.split('\n').length - 2);
      expect(unknown.text).toContain('203.0.113.7');
    });

    it(`alert-recovery-code-used in ${locale} says so when no backup code is left`, () => {
      const wording = (remaining: number) =>
        templates.render('alert-recovery-code-used', locale, { ...SAMPLES['alert-recovery-code-used'].data, remaining });
      const none = wording(0);
      expect(none.text).toContain(': 0');
      expect(decodeHtml(none.html)).toContain(': 0');
      const withoutCount = (text: string) => text.replace(/: \d+$/m, '');
      expect(withoutCount(none.text)).not.toBe(withoutCount(wording(7).text));
      expect(withoutCount(wording(1).text)).toBe(withoutCount(wording(7).text));
    });

    it(`email-code in ${locale} says what the code is for, how long it lasts, and not to share it`, () => {
      const texts = (['two-factor', 'login', 'step-up'] as const).map((purpose) => {
        const { html, text } = templates.render('email-code', locale, { ...SAMPLES['email-code'].data, purpose, ttlMinutes: 17 });
        expect(text).toContain('17');
        expect(decodeHtml(html)).toContain('17');
        const wording = CODE_MAIL_WORDING[locale]!;
        expect(text).toMatch(wording.minutes);
        expect(decodeHtml(html)).toMatch(wording.minutes);
        expect(text).toMatch(wording.doNotShare);
        expect(decodeHtml(html)).toMatch(wording.doNotShare);
        // The purpose's title is in the text (first line).
        const title = text.trim().split('\n')[0]!.trim();
        expect(title).not.toBe('');
        return title;
      });
      expect(new Set(texts).size).toBe(3);
    });
  }

  it('renders every supported locale (falling back to a known one) and unknown locales in the default', () => {
    for (const locale of [...SUPPORTED_LOCALES, 'xx', 'pt', 'de-AT', '', null, undefined]) {
      const resolved = templates.resolveLocale(locale);
      expect(templates.locales).toContain(resolved);
      const { text } = templates.render('email-code', locale ?? 'en', SAMPLES['email-code'].data);
      expect(text).toContain(CODE);
    }
    expect(templates.resolveLocale('xx')).toBe('en');
  });

  it.each([
    ['de', 'de'],
    ['pt-BR', 'pt-BR'],
    ['pt-br', 'pt-BR'],
    ['PT-BR', 'pt-BR'],
    ['DE', 'de'],
    ['de-AT', 'de'],
    ['fr-CA', 'fr'],
    ['es-419', 'es'],
    // No `pt` templates: the language's variant that exists.
    ['pt', 'pt-BR'],
    ['pt-PT', 'pt-BR'],
  ])('resolves %j to %j', (asked, expected) => {
    expect(templates.resolveLocale(asked)).toBe(expected);
  });

  it('falls back to DEFAULT_LOCALE for an unknown or missing locale, then to English', () => {
    const french = new MailTemplates(Object.assign(new AppConfig(), { DEFAULT_LOCALE: 'fr' }));
    for (const locale of ['xx', 'xx-YY', 'p', '', '   ', null, undefined]) expect(french.resolveLocale(locale)).toBe('fr');
    // The asked locale still wins over the default.
    expect(french.resolveLocale('en')).toBe('en');
    expect(french.resolveLocale('pt')).toBe('pt-BR');
    expect(french.render('verify-email', 'xx', SAMPLES['verify-email'].data).subject).toBe('Confirmez votre adresse e-mail');

    const unknownDefault = new MailTemplates(Object.assign(new AppConfig(), { DEFAULT_LOCALE: 'xx' }));
    expect(unknownDefault.resolveLocale('xx')).toBe('en');
  });

  it('renders each locale in its own language', () => {
    const subjects = templates.locales.map(
      (locale) => templates.render('verify-email', locale, SAMPLES['verify-email'].data).subject,
    );
    expect(new Set(subjects).size).toBe(templates.locales.length);
    expect(templates.render('verify-email', 'de', SAMPLES['verify-email'].data).subject).toBe(
      'Bestätigen Sie Ihre E-Mail-Adresse',
    );
    expect(templates.render('email-code', 'pt-BR', SAMPLES['email-code'].data).subject).toBe(
      'Autenticação de dois fatores: seu código de verificação',
    );
  });

  it('refuses to render a template with data missing (no blank code in a mail)', () => {
    expect(() => templates.render('email-code', 'en', { name: 'A', purpose: 'two-factor', ttlMinutes: 10 })).toThrow();
    expect(() => templates.render('verify-email', 'en', { name: 'A', address: 'a@example.com', ttlHours: 24 })).toThrow();
  });

  it('refuses an alert without a usable instant, or with a method it cannot name', () => {
    const data = SAMPLES['alert-password-changed'].data;
    expect(() => templates.render('alert-password-changed', 'en', { name: 'A' })).toThrow();
    for (const at of ['', 'yesterday', '2026-03-05T14:07', '2026-02-30T25:00:00Z', 1772719620000]) {
      expect(() => templates.render('alert-password-changed', 'de', { ...data, at }), String(at)).toThrow();
    }
    expect(templates.render('alert-password-changed', 'en', { ...data, at: new Date(AT) }).text).toMatch(ALERT_WORDING.en!.date);
    expect(templates.render('alert-password-changed', 'en', { ...data, at: '2026-03-05T15:07:00.000+01:00' }).text).toMatch(
      ALERT_WORDING.en!.date,
    );
    expect(() =>
      templates.render('alert-two-factor-added', 'fr', { ...SAMPLES['alert-two-factor-added'].data, method: 'sms' }),
    ).toThrow();
    expect(() => templates.render('alert-two-factor-added', 'fr', { name: 'A', at: AT })).toThrow();
  });

  it('takes the locale of the mail, not a "locale" field of the data, for dates', () => {
    const { text } = templates.render('alert-password-changed', 'de', {
      ...SAMPLES['alert-password-changed'].data,
      locale: 'en',
    });
    expect(text).toMatch(ALERT_WORDING.de!.date);
  });

  it('refuses an unknown template', () => {
    expect(() => templates.render('no-such-template' as MailTemplateName, 'en', {})).toThrow(/Unknown mail template/);
  });
});
