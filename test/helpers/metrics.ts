/** One sample of the Prometheus text format: `name{label="value",…} number`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LABEL = /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g;
const unescape = (value: string) => value.replace(/\\(.)/g, (_all, char: string) => (char === 'n' ? '\n' : char));

/** The samples of a text-format answer, and the TYPE of each family (comments and blank lines skipped). */
export class MetricsText {
  readonly samples: Sample[] = [];
  readonly types = new Map<string, string>();

  constructor(readonly text: string) {
    for (const line of text.split('\n')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) this.types.set(type[1]!, type[2]!);
      if (!line || line.startsWith('#')) continue;
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`Not a sample line: ${JSON.stringify(line)}`);
      const labels: Record<string, string> = {};
      for (const [, name, value] of (match[2] ?? '').matchAll(LABEL)) labels[name!] = unescape(value!);
      this.samples.push({ name: match[1]!, labels, value: Number(match[3]) });
    }
  }

  /** The samples of `name` whose labels include `labels`. */
  find(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.samples.filter(
      (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    );
  }

  /** The sum of the matching samples (0 when there is none: a series not created yet). */
  value(name: string, labels: Record<string, string> = {}): number {
    return this.find(name, labels).reduce((sum, sample) => sum + sample.value, 0);
  }

  /** The one sample of `name` with exactly these labels; throws when there is none. */
  exact(name: string, labels: Record<string, string> = {}): number {
    const value = this.get(name, labels);
    if (value === undefined) throw new Error(`No sample of ${name} ${JSON.stringify(labels)}`);
    return value;
  }

  /** The sample of `name` with exactly these labels; undefined when there is none (a series not created yet). */
  get(name: string, labels: Record<string, string> = {}): number | undefined {
    const wanted = Object.keys(labels).length;
    const found = this.find(name, labels).filter((sample) => Object.keys(sample.labels).length === wanted);
    if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
    return found[0]?.value;
  }
}

/** GET /metrics at `baseUrl`, parsed; fails on anything but a 200 in the text format. */
export async function scrape(baseUrl: string): Promise<MetricsText> {
  const response = await fetch(`${baseUrl}/metrics`);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}: ${text.slice(0, 200)}`);
  if (!response.headers.get('content-type')?.startsWith('text/plain; version=0.0.4')) {
    throw new Error(`GET /metrics answered ${response.headers.get('content-type')}`);
  }
  return new MetricsText(text);
}
