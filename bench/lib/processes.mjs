// The processes of a run: servers (floor, service) and the children that generate load. Each
// runs apart from the others, so a load generator never competes with its target's event loop.
import { execFileSync, fork, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { clearInterval, clearTimeout, setInterval } from 'node:timers';

export const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

/** A field of /proc/<pid>/status in KiB (VmRSS now, VmHWM the peak so far); null off Linux or once gone. */
export function statusKiB(pid, field) {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

let clockTicks;
const ticksPerSecond = () => {
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    clockTicks = 100; // Linux's USER_HZ nearly everywhere
  }
  return clockTicks;
};

/**
 * CPU time (user + system, s) a process has used so far, all its threads (the libuv pool, where
 * argon2 runs, included); null off Linux or once gone. CPU time per request moves far less than
 * requests per second when something else competes for the cores.
 */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is [0], utime [11], stime [12].
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return null;
  }
}

/**
 * CPU time (s) used so far by every PostgreSQL process on this machine: the postmaster, its
 * backends, and (through the postmaster's children's times) the backends that have exited. A
 * difference of two readings is what the server spent meanwhile, whoever asked; the bench's own
 * cluster is the only busy one. null off Linux, or when no PostgreSQL runs here (DATABASE_URL on
 * another machine).
 */
export function postgresCpuSeconds() {
  let pids;
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  let ticks = 0;
  let found = false;
  for (const pid of pids) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') continue;
    found = true;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, then the reaped children's cutime and cstime.
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  }
  return found ? ticks / ticksPerSecond() : null;
}

/**
 * Polls a process's resident set every 200 ms; the returned function stops and gives the peak
 * (KiB). VmHWM would only tell the peak since the process started, not during one scenario.
 */
export function watchPeakRss(pid, everyMs = 200) {
  let peak = statusKiB(pid, 'VmRSS');
  const sample = () => {
    const now = statusKiB(pid, 'VmRSS');
    if (now !== null && (peak === null || now > peak)) peak = now;
  };
  const timer = setInterval(sample, everyMs);
  return () => {
    clearInterval(timer);
    sample();
    return peak;
  };
}

const exitOf = (child) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve({ code: child.exitCode, signal: child.signalCode })
    : new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

/**
 * Starts a Node server (`script` with `nodeArgs`, e.g. --cpu-prof) and waits until `healthPath`
 * answers a status `ready` accepts (default 2xx). Its output goes to our stderr, prefixed, so a
 * warning under load is seen; or, with `logFile`, to that file (a service logging a line per
 * request would otherwise have this process relay each one, on the cores being measured).
 */
export async function startServer({
  name,
  script,
  nodeArgs = [],
  env,
  port,
  healthPath,
  ready = (status) => status >= 200 && status < 300,
  timeoutMs = 120_000,
  logFile,
}) {
  const output = logFile ? openSync(logFile, 'w') : 'pipe';
  const child = spawn(process.execPath, [...nodeArgs, script], { env, stdio: ['ignore', output, output] });
  if (logFile) closeSync(output);
  else {
    const prefix = (chunk) => process.stderr.write(chunk.toString().replace(/^(?=.)/gm, `[${name}] `));
    child.stdout.on('data', prefix);
    child.stderr.on('data', prefix);
  }
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited during start-up`);
    try {
      if (ready((await fetch(`${base}${healthPath}`)).status)) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not answer ${healthPath} within ${timeoutMs / 1000} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    name,
    base,
    pid: child.pid,
    /** SIGTERM, then the exit ({code, signal}); SIGKILL if draining takes longer than `graceMs`. */
    async stop(graceMs = 30_000) {
      const exited = exitOf(child);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
}

/**
 * Runs a bench child (load generator or argon2 loop) to completion: `options` go in as argv[2]
 * (JSON), its one result comes back over IPC. `onChild` gets the process (to feed it messages, to
 * watch it); `onMeasuring` is called when the measured window starts (after the warm-up), and
 * `onResult` when it ends (the result in hand, the child still alive). A child that exits without
 * a result rejects.
 */
export function runChild(script, options, { onChild, onMeasuring, onResult } = {}) {
  const child = fork(script, [JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  onChild?.(child);
  return new Promise((resolve, reject) => {
    let result;
    child.on('message', (message) => {
      if (message?.type === 'measuring') onMeasuring?.();
      if (message?.type === 'result') {
        result = message.result;
        onResult?.();
      }
    });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      result !== undefined ? resolve(result) : reject(new Error(`${script} ended (${signal ?? code}) without a result`)),
    );
  });
}
