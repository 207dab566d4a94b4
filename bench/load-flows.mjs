// Load generator of the full two-factor login: one virtual user per bench user, each looping
// password login → emailed code → twoFactorChallenges.verifyChallenge. In a process of its own;
// options as JSON in argv[2]. The orchestrator owns the SMTP server and forwards every code mail
// here ({type: 'code', to, code}); the result goes back over IPC.
import { Buffer } from 'node:buffer';
import { Agent, request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import { clearTimeout } from 'node:timers';
import { percentile } from './lib/stats.mjs';

const { base, users, durationSeconds, warmupSeconds, userAgent } = JSON.parse(process.argv[2]);

/** Per address, the codes mailed since the last `expectCode`, and who waits for one. */
const mailboxes = new Map(users.map((user) => [user.email.toLowerCase(), { codes: [], waiter: null }]));

process.on('message', (message) => {
  if (message?.type !== 'code') return;
  const box = mailboxes.get(message.to);
  if (!box) return;
  box.codes.push(message.code);
  box.waiter?.();
});

/** Forget what is there (a late mail of an earlier flow must not be taken for this one's). */
const expectCode = (email) => (mailboxes.get(email.toLowerCase()).codes = []);

function takeCode(email, timeoutMs = 15_000) {
  const box = mailboxes.get(email.toLowerCase());
  return new Promise((resolve, reject) => {
    const take = () => {
      clearTimeout(timer);
      box.waiter = null;
      resolve(box.codes.at(-1));
    };
    const timer = setTimeout(() => {
      box.waiter = null;
      reject(new Error(`no code mailed to ${email} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    if (box.codes.length) take();
    else box.waiter = take;
  });
}

// node:http with a keep-alive agent, not fetch: undici's fetch cost this process ~3.5 ms of CPU per
// flow, on the cores the service and PostgreSQL share with it (the whole bench runs on one machine).
const agent = new Agent({ keepAlive: true, maxSockets: users.length });
const { hostname, port } = new URL(base);

function post(path, body) {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        agent,
        hostname,
        port,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'user-agent': userAgent },
      },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: response.statusCode, body: json, text });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

const describe = (step, answer) => `${step} answered ${answer.status}: ${answer.text.slice(0, 200)}`;

/** One complete login; throws on any answer the flow does not expect. */
async function flow(user) {
  expectCode(user.email);
  const login = await post('/api/v1/login', { user: user.username, password: user.password });
  const challengeId = login.body?.details?.challengeId;
  if (login.status !== 401 || login.body?.error !== 'totp-required' || !challengeId) throw new Error(describe('login', login));
  const code = await takeCode(user.email);
  const verified = await post('/api/v1/twoFactorChallenges.verifyChallenge', { challengeId, code });
  if (verified.status !== 200 || verified.body?.success !== true) throw new Error(describe('verifyChallenge', verified));
}

/** Every user loops until `seconds` have passed; a flow counts when it ends inside the window. */
async function run(seconds, latencies) {
  const until = performance.now() + seconds * 1000;
  const failures = [];
  await Promise.all(
    users.map(async (user) => {
      while (performance.now() < until) {
        const started = performance.now();
        try {
          await flow(user);
          if (performance.now() <= until) latencies?.push(performance.now() - started);
        } catch (error) {
          failures.push(String(error.message ?? error));
        }
      }
    }),
  );
  return failures;
}

// Each user logs in at least once unmeasured: a broken set-up shows before the measured window.
const warmupFailures = await run(warmupSeconds);
const latencies = [];
process.send({ type: 'measuring' });
const failures = await run(durationSeconds, latencies);
const allFailures = [...warmupFailures, ...failures];

process.send(
  {
    type: 'result',
    result: {
      virtualUsers: users.length,
      requests: latencies.length,
      durationSeconds,
      rate: latencies.length / durationSeconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      errors: allFailures.length,
      non2xx: 0,
      failureSamples: [...new Set(allFailures)].slice(0, 5),
    },
  },
  () => process.exit(0),
);
