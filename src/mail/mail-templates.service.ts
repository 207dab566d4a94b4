import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import Handlebars from 'handlebars';
import { AppConfig } from '../config/app-config.js';

export type MailTemplateName =
  | 'email-code'
  | 'verify-email'
  | 'alert-new-login'
  | 'alert-password-changed'
  | 'alert-email-changed'
  | 'alert-two-factor-added'
  | 'alert-two-factor-removed'
  | 'alert-recovery-code-used'
  | 'alert-registration-attempt';

export interface RenderedMail {
  subject: string;
  html: string;
  text: string;
}

type Compiled = Partial<Record<string, HandlebarsTemplateDelegate>>;

interface LocaleBundle {
  subjects: Compiled;
  strings: Record<string, string>;
  html: Compiled;
  text: Compiled;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

export const TEMPLATES_DIR = fileURLToPath(new URL('./templates/', import.meta.url));

/** Compiles every template of every locale once at start-up; a broken template stops start-up. */
@Injectable()
export class MailTemplates {
  private readonly bundles = new Map<string, LocaleBundle>();
  // Own instances rather than the global Handlebars: our helpers stay out of every other user of the module.
  private readonly htmlHandlebars = Handlebars.create();
  // Text parts are not HTML: escaping would turn "&" into "&amp;" in a plain-text mail.
  private readonly textHandlebars = Handlebars.create();
  private readonly dateFormats = new Map<string, Intl.DateTimeFormat>();

  constructor(@Inject(AppConfig) private readonly config: AppConfig) {
    for (const instance of [this.htmlHandlebars, this.textHandlebars]) {
      instance.registerHelper('formatDate', (value: unknown, options: Handlebars.HelperOptions) =>
        this.formatDate(value, options),
      );
    }
    for (const locale of readdirSync(TEMPLATES_DIR)) this.bundles.set(locale, this.load(locale));
  }

  get locales(): string[] {
    return [...this.bundles.keys()];
  }

  get templateNames(): MailTemplateName[] {
    return Object.keys(this.bundles.get('en')?.html ?? {}) as MailTemplateName[];
  }

  /**
   * The locale actually used: the asked one if templates exist for it (tags compare case-insensitively:
   * `pt-br` is `pt-BR`), else its base language (`de` for `de-AT`), else another variant of that
   * language (`pt-BR` for `pt` or `pt-PT`), else DEFAULT_LOCALE, else English.
   */
  resolveLocale(locale: string | null | undefined): string {
    const wanted = locale?.trim().toLowerCase();
    if (wanted) {
      const available = this.locales;
      const exact = available.find((candidate) => candidate.toLowerCase() === wanted);
      if (exact) return exact;
      const base = wanted.split('-')[0];
      const sameLanguage =
        available.find((candidate) => candidate.toLowerCase() === base) ??
        available.find((candidate) => candidate.toLowerCase().split('-')[0] === base);
      if (sameLanguage) return sameLanguage;
    }
    return this.bundles.has(this.config.DEFAULT_LOCALE) ? this.config.DEFAULT_LOCALE : 'en';
  }

  render(template: MailTemplateName, locale: string, data: Record<string, unknown>): RenderedMail {
    const resolved = this.resolveLocale(locale);
    const bundle = this.bundles.get(resolved)!;
    const english = this.bundles.get('en')!;
    const title = (prefix: string, key: unknown): string | undefined =>
      typeof key === 'string' ? (bundle.strings[`${prefix}.${key}`] ?? english.strings[`${prefix}.${key}`]) : undefined;
    const methodTitle = title('method', data.method);
    const context = {
      ...data,
      purposeTitle: title('purpose', data.purpose),
      // Left out when unknown so that strict mode refuses the mail instead of sending "turned on: ".
      ...(methodTitle === undefined ? {} : { methodTitle }),
    };
    const part = (kind: 'subjects' | 'html' | 'text'): string => {
      const own = bundle[kind][template];
      const compiled = own ?? english[kind][template];
      if (!compiled) throw new Error(`Unknown mail template ${template}`);
      // The locale travels as @data, not in the context: helpers are global to the instance, and
      // the caller's data must not be able to override it. A part that fell back to English says
      // its dates in English too.
      return compiled(context, { data: { locale: own ? resolved : 'en' } });
    };
    return { subject: part('subjects'), html: part('html'), text: part('text') };
  }

  /**
   * `{{formatDate at}}`: an ISO-8601 instant in the words of the mail's locale. We do not know the
   * reader's time zone, so the time is in UTC and says so rather than passing for local time.
   */
  private formatDate(value: unknown, options: Handlebars.HelperOptions): string {
    // An instant with its zone: without one, Date would read "2026-03-05T14:07" as the server's local time.
    const instant =
      value instanceof Date ? value : typeof value === 'string' && ISO_INSTANT.test(value) ? new Date(value) : undefined;
    if (!instant || Number.isNaN(instant.getTime())) throw new Error('formatDate needs an ISO-8601 instant');
    const locale = (options.data as { locale?: string } | undefined)?.locale ?? 'en';
    let format = this.dateFormats.get(locale);
    if (!format) {
      format = new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' });
      this.dateFormats.set(locale, format);
    }
    return `${format.format(instant)} UTC`;
  }

  private load(locale: string): LocaleBundle {
    const dir = join(TEMPLATES_DIR, locale);
    const readJson = (file: string): Record<string, string> =>
      existsSync(join(dir, file)) ? JSON.parse(readFileSync(join(dir, file), 'utf8')) : {};
    const bundle: LocaleBundle = { subjects: {}, strings: readJson('strings.json'), html: {}, text: {} };
    for (const [name, subject] of Object.entries(readJson('subjects.json'))) {
      bundle.subjects[name] = this.textHandlebars.compile(subject, { strict: true, noEscape: true });
    }
    for (const file of readdirSync(dir)) {
      const match = /^(.+)\.(html|text)\.hbs$/.exec(file);
      if (!match) continue;
      const [, name, kind] = match as unknown as [string, string, 'html' | 'text'];
      const source = readFileSync(join(dir, file), 'utf8');
      bundle[kind][name] = (kind === 'html' ? this.htmlHandlebars : this.textHandlebars).compile(source, {
        strict: true,
        noEscape: kind === 'text',
      });
    }
    return bundle;
  }
}
