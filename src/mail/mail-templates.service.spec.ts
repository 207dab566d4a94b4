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

  it('refuses an unknown template', () => {
    expect(() => templates.render('no-such-template' as MailTemplateName, 'en', {})).toThrow(/Unknown mail template/);
  });
});
