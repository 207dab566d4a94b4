import { describe, expect, it } from 'vitest';
import { AppConfig, SUPPORTED_LOCALES } from '../config/app-config.js';
import { MailTemplates, type MailTemplateName } from './mail-templates.service.js';

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
          expect(html).toMatch(/<html[\s>]/i);
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
        if (locale === 'en') {
          expect(text).toMatch(/17 minutes/);
          expect(text).toMatch(/do not share/i);
          expect(html).toMatch(/do not share/i);
        }
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

  it('refuses to render a template with data missing (no blank code in a mail)', () => {
    expect(() => templates.render('email-code', 'en', { name: 'A', purpose: 'two-factor', ttlMinutes: 10 })).toThrow();
    expect(() => templates.render('verify-email', 'en', { name: 'A', address: 'a@example.com', ttlHours: 24 })).toThrow();
  });

  it('refuses an unknown template', () => {
    expect(() => templates.render('no-such-template' as MailTemplateName, 'en', {})).toThrow(/Unknown mail template/);
  });
});
