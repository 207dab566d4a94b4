import { createConfig, lintFromString, type NormalizedProblem } from '@redocly/openapi-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from './helpers/api.js';
import { DocumentedAnswers } from './helpers/openapi-validator.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

type Json = any;

/** One problem a line: severity, rule, where (a JSON pointer into the document) and what. */
const describeProblem = (problem: NormalizedProblem): string =>
  `${problem.severity} ${problem.ruleId} at ${problem.location[0]?.pointer ?? '?'}: ${problem.message}`;

/** The document, linted with Redocly's `recommended` ruleset (what `redocly lint` applies by default). */
async function lint(source: string): Promise<NormalizedProblem[]> {
  const config = await createConfig({ extends: ['recommended'] });
  return lintFromString({ source, absoluteRef: 'openapi.json', config });
}

/**
 * The warnings accepted, each with its reason; any other warning fails. Pointers are matched
 * whole, so a new path with the same warning is not let through.
 */
const ACCEPTED_WARNINGS: Array<{ rule: string; pointer: RegExp; why: string; expected?: (doc: Json) => boolean }> = [
  {
    rule: 'info-license-strict',
    pointer: /^#\/info\/license\/url$/,
    why: 'UNLICENSED (package.json): a proprietary licence has no URL to give',
  },
  {
    rule: 'operation-4xx-response',
    pointer: /^#\/paths\/~1metrics\/get\/responses$/,
    why: 'GET /metrics (metrics module) documents no client error',
    // In the document only when METRICS_PORT does not serve it apart.
    expected: (doc) => Boolean(doc.paths['/metrics']),
  },
];

const accepted = (problem: NormalizedProblem): boolean =>
  ACCEPTED_WARNINGS.some(({ rule, pointer }) => problem.ruleId === rule && pointer.test(problem.location[0]?.pointer ?? ''));

describe('OpenAPI document, linted (Redocly recommended)', () => {
  let t: TestApp;
  let source: string;
  let doc: Json;
  let problems: NormalizedProblem[];

  /** Every operation of the document, as `method path`. */
  const operations = (): Array<[route: string, operation: Json]> =>
    Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) =>
      Object.entries(item as Record<string, Json>).map(
        ([method, operation]) => [`${method} ${path}`, operation] as [string, Json],
      ),
    );

  beforeAll(async () => {
    t = await createTestApp();
    const res = await fetch(`${t.baseUrl}/api/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    source = await res.text();
    doc = JSON.parse(source);
    problems = await lint(source);
  });
  afterAll(async () => t?.close());

  it('has no error-severity problem', () => {
    const errors = problems.filter((problem) => problem.severity === 'error').map(describeProblem);
    expect(errors, `Redocly errors:\n${errors.join('\n')}`).toEqual([]);
  });

  it('has no warning beyond the accepted ones (each with its reason)', () => {
    const warnings = problems.filter((problem) => problem.severity === 'warn');
    const unexpected = warnings.filter((problem) => !accepted(problem)).map(describeProblem);
    expect(unexpected, `Redocly warnings:\n${warnings.map(describeProblem).join('\n')}`).toEqual([]);
    // An accepted warning that went away should leave the list too.
    const stale = ACCEPTED_WARNINGS.filter(
      ({ rule, pointer, expected = () => true }) =>
        expected(doc) && !warnings.some((problem) => problem.ruleId === rule && pointer.test(problem.location[0]?.pointer ?? '')),
    );
    expect(
      stale.map(({ rule, why }) => `${rule} (${why})`),
      'accepted warnings no longer raised',
    ).toEqual([]);
  });

  it('catches a broken document (the check can fail)', async () => {
    const broken = JSON.parse(source);
    const [route, operation] = operations()[0]!;
    // A second operation with the same operationId, and a requirement naming no scheme.
    broken.paths['/lint-probe'] = { get: { ...operation, security: [{ 'no-such-scheme': [] }] } };
    delete broken.paths[route.split(' ')[1]!][route.split(' ')[0]!].summary;
    const rules = new Set(
      (await lint(JSON.stringify(broken))).filter((problem) => problem.severity === 'error').map((problem) => problem.ruleId),
    );
    expect(rules).toEqual(new Set(['operation-operationId-unique', 'security-defined', 'operation-summary']));
  });

  it('declares servers, a licence, every tag it uses (with a description), and unique operationIds', () => {
    expect(doc.servers.length).toBeGreaterThan(0);
    expect(doc.servers[0].url).toBe(t.config.publicUrl);
    expect(doc.info.license).toEqual({ name: 'UNLICENSED' });
    const declared = new Map((doc.tags as Json[]).map((tag) => [tag.name, tag.description]));
    const ids = new Set<string>();
    for (const [route, operation] of operations()) {
      for (const tag of operation.tags ?? []) expect(declared.get(tag), `${route}: tag ${tag}`).toMatch(/\w{3}/);
      expect(operation.operationId, route).toMatch(/^[\w.-]+$/);
      expect(ids.has(operation.operationId), `${route}: ${operation.operationId} is unique`).toBe(false);
      ids.add(operation.operationId);
      // Public routes say so (no requirement), protected ones name their schemes.
      expect(operation.security, route).toEqual(expect.any(Array));
    }
    expect(ids.size).toBeGreaterThan(45);
  });

  it('gives every response with a body a schema (every route, both surfaces and the probes)', () => {
    const untyped: string[] = [];
    let typed = 0;
    for (const [route, operation] of operations()) {
      for (const [status, response] of Object.entries(operation.responses as Record<string, Json>)) {
        // Only a 304 goes without a body: every 2xx and 4xx carries one, described.
        if (/^[24]/.test(status) && !response.content) untyped.push(`${route} ${status}: no content`);
        for (const [type, media] of Object.entries((response.content ?? {}) as Record<string, Json>)) {
          if (media.schema) typed++;
          else untyped.push(`${route} ${status} ${type}: no schema`);
        }
      }
    }
    expect(untyped).toEqual([]);
    expect(typed).toBeGreaterThan(200);
  });

  it('the probes answer as documented', async () => {
    const answers = new DocumentedAnswers(doc);
    const api = new Api(t.baseUrl);
    for (const [route, url] of [
      ['get /health', '/health'],
      ['get /health/live', '/health/live'],
      ['get /health/ready', '/health/ready'],
      ['get /health', '/health?probe=%00'],
    ] as const) {
      const res = await api.get(url);
      expect(answers.problems(route, res), `${url} → ${res.status} ${JSON.stringify(res.body)}`).toEqual([]);
    }
    expect(answers.checked).toBe(4);
  });
});
