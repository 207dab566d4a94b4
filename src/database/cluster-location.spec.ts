import { describe, expect, it } from 'vitest';
import { chooseClusterDir, type ClusterFacts, fallbackClusterDir, placeCluster } from './cluster-location.js';

describe('chooseClusterDir', () => {
  const facts = (overrides: Partial<ClusterFacts>): ClusterFacts => ({
    runsAsRoot: true,
    requestedReachable: true,
    requestedInitialised: false,
    fallbackInitialised: false,
    ...overrides,
  });

  it('keeps the requested directory when not root: the server runs as this user, who owns it', () => {
    expect(chooseClusterDir(facts({ runsAsRoot: false, requestedReachable: false }))).toBe('requested');
    expect(chooseClusterDir(facts({ runsAsRoot: false, fallbackInitialised: true }))).toBe('requested');
  });

  it('keeps the requested directory as root when the postgres user can reach it', () => {
    expect(chooseClusterDir(facts({}))).toBe('requested');
    expect(chooseClusterDir(facts({ requestedInitialised: true, fallbackInitialised: true }))).toBe('requested');
  });

  it('falls back as root when the postgres user cannot reach the requested directory', () => {
    expect(chooseClusterDir(facts({ requestedReachable: false }))).toBe('fallback');
    expect(chooseClusterDir(facts({ requestedReachable: false, requestedInitialised: true }))).toBe('fallback');
  });

  it('stays with a cluster already in the fallback rather than starting an empty one', () => {
    expect(chooseClusterDir(facts({ fallbackInitialised: true }))).toBe('fallback');
  });
});

describe('fallbackClusterDir', () => {
  it('is one directory per absolute DATA_DIR, the same on every start', () => {
    const dir = fallbackClusterDir('/root/app/.data/pg');
    expect(dir).toMatch(/^\/var\/lib\/two-factor-service\/[0-9a-f]{16}\/pg$/);
    expect(fallbackClusterDir('/root/app/.data/pg')).toBe(dir);
    expect(fallbackClusterDir('/root/app/.data/../.data/pg')).toBe(dir);
    expect(fallbackClusterDir('/root/other/.data/pg')).not.toBe(dir);
    expect(fallbackClusterDir('/root/app/.data/pg', '/srv/tfa')).toBe(dir.replace('/var/lib/two-factor-service', '/srv/tfa'));
  });

  it('keys relative paths by their absolute form', () => {
    expect(fallbackClusterDir('.data/pg')).toBe(fallbackClusterDir(`${process.cwd()}/.data/pg`));
  });
});

describe('placeCluster', () => {
  it('leaves the cluster where it was asked for when not running as root', () => {
    expect(placeCluster('/anywhere/.data/pg', { runsAsRoot: false })).toEqual({ dir: '/anywhere/.data/pg' });
  });
});
