import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findFreePort } from '../../src/database/embedded-postgres.js';

export const run = promisify(execFile);

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Compiles the service as `npm run build` does. Each test file needs a directory of its own
 * (files run in parallel), inside the project so the compiled code finds node_modules.
 */
export async function buildService(dir: string): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  await run('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', dir]);
  cpSync('src/mail/templates', join(dir, 'src/mail/templates'), { recursive: true });
}

export interface ServiceProcess {
  readonly base: string;
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  /** stdout and stderr as written, interleaved. */
  output(): string;
  /** The log: stdout's lines, each parsed as the JSON object it must be (throws on one that is not). */
  logs(): ServiceLogEntry[];
  /** Resolves with the exit, or 'timeout' if the process is still running after `ms`. */
  exit(ms: number): Promise<Exit | 'timeout'>;
  kill(): Promise<void>;
}

/** The built service in its own process, as `npm start` runs it; resolves once /health answers 200. */
export async function startService(buildDir: string, env: Record<string, string>): Promise<ServiceProcess> {
  const port = await findFreePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [join(buildDir, 'src/main.js')], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), LOG_LEVEL: 'log', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const service: ServiceProcess = {
    base,
    child,
    exited,
    output: () => output,
    logs: () => parseLogLines(stdout),
    exit: (ms) => Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms))]),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/health`)).ok) return service;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      await service.kill();
      throw new Error(`the service did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export type Answer = { status: number; body: string } | { error: string };

export interface HeldRequests {
  /** Sends the rest of every body; the answers follow. */
  release(): void;
  answers: Promise<Answer[]>;
  close(): void;
}

/**
 * `count` logins (wrong credentials, unless `login` says whose) that are truly in flight: each on
 * its own keep-alive connection, accepted and routed by the server (it answered "100 Continue",
 * which Node does right before it hands the request to the application), half of the body sent,
 * the rest held back until `release()`.
 */
export async function holdRequests(
  base: string,
  count: number,
  login: { user: string; password: string } = { user: 'nobody-in-particular', password: 'certainly not the password' },
): Promise<HeldRequests> {
  const { hostname, port } = new URL(base);
  const body = JSON.stringify(login);
  const half = Math.floor(body.length / 2);
  const agent = new http.Agent({ keepAlive: true });
  const held = Array.from({ length: count }, () => {
    const request = http.request({
      host: hostname,
      port,
      method: 'POST',
      path: '/api/v1/login',
      agent,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        accept: 'application/json',
        'user-agent': 'shutdown-test/1.0',
        expect: '100-continue',
      },
    });
    const answer = new Promise<Answer>((resolve) => {
      request.on('response', (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        response.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
      });
      request.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    });
    const routed = new Promise<void>((resolve, reject) => {
      request.once('continue', () => resolve());
      request.once('error', reject);
    });
    request.flushHeaders();
    return { request, answer, routed };
  });
  await Promise.all(held.map(({ routed }) => routed));
  for (const { request } of held) request.write(body.slice(0, half));
  return {
    release: () => held.forEach(({ request }) => request.end(body.slice(half))),
    answers: Promise.all(held.map(({ answer }) => answer)),
    close: () => agent.destroy(),
  };
}

/** One line of the service's log (JSON, from pino). */
/**
 * SIGTERM to `service` while `count` requests are in flight (held mid-body, released 300 ms after
 * the signal): what each request got (a status, or the socket error), how the process ended, and
 * when the signal was sent.
 */
export async function sigtermWithRequestsInFlight(
  service: ServiceProcess,
  count: number,
): Promise<{ outcomes: Array<number | string>; exit: Exit | 'timeout'; signalledAt: number }> {
  const held = await holdRequests(service.base, count);
  const signalledAt = Date.now();
  service.child.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 300));
  held.release();
  const answers = await held.answers;
  const exit = await service.exit(20_000);
  held.close();
  return { outcomes: answers.map((answer) => ('status' in answer ? answer.status : answer.error)), exit, signalledAt };
}

export interface ServiceLogEntry {
  level: string;
  time: string;
  msg?: string;
  context?: string;
  [field: string]: unknown;
}

/** Every complete line of `text`, parsed; throws on a line that is not a JSON object. */
export function parseLogLines(text: string): ServiceLogEntry[] {
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch {
        throw new Error(`a log line is not JSON: ${line}`);
      }
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry))
        throw new Error(`a log line is not a JSON object: ${line}`);
      return entry as ServiceLogEntry;
    });
}

/** Those of `messages` the log has (as a line's `msg`), in the order of their first line: equal to `messages` when all are there, in order. */
export function messagesInLogOrder(logs: ServiceLogEntry[], messages: string[]): string[] {
  const at = (message: string) => logs.findIndex((entry) => entry.msg === message);
  return messages.filter((message) => at(message) >= 0).sort((a, b) => at(a) - at(b));
}

/** The log's error and fatal lines. */
export const errorLines = (logs: ServiceLogEntry[]): ServiceLogEntry[] =>
  logs.filter((entry) => entry.level === 'error' || entry.level === 'fatal');
