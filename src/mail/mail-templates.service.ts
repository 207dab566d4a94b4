import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import Handlebars from 'handlebars';
import { AppConfig } from '../config/app-config.js';

export type MailTemplateName = 'email-code' | 'verify-email';

export interface RenderedMail {
  subject: string;
  html: string;
  text: string;
}

interface LocaleBundle {
  subjects: Record<string, HandlebarsTemplateDelegate>;
  strings: Record<string, string>;
  html: Record<string, HandlebarsTemplateDelegate>;
  text: Record<string, HandlebarsTemplateDelegate>;
}

export const TEMPLATES_DIR = fileURLToPath(new URL('./templates/', import.meta.url));

/** Compiles every template of every locale once at start-up; a broken template stops start-up. */
@Injectable()
export class MailTemplates {
  private readonly bundles = new Map<string, LocaleBundle>();
  // Text parts are not HTML: escaping would turn "&" into "&amp;" in a plain-text mail.
  private readonly textHandlebars = Handlebars.create();

  constructor(@Inject(AppConfig) private readonly config: AppConfig) {
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
    const bundle = this.bundles.get(this.resolveLocale(locale))!;
    const english = this.bundles.get('en')!;
    const purpose = typeof data.purpose === 'string' ? data.purpose : undefined;
    const context = {
      ...data,
      purposeTitle: purpose ? (bundle.strings[`purpose.${purpose}`] ?? english.strings[`purpose.${purpose}`]) : undefined,
    };
    const pick = <T>(record: Record<string, T>, fallback: Record<string, T>): T => {
      const found = record[template] ?? fallback[template];
      if (!found) throw new Error(`Unknown mail template ${template}`);
      return found;
    };
    return {
      subject: pick(bundle.subjects, english.subjects)(context),
      html: pick(bundle.html, english.html)(context),
      text: pick(bundle.text, english.text)(context),
    };
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
      bundle[kind][name] = (kind === 'html' ? Handlebars : this.textHandlebars).compile(source, {
        strict: true,
        noEscape: kind === 'text',
      });
    }
    return bundle;
  }
}
