// Load generator of the full two-factor login: one virtual user per bench user, each looping
// password login → emailed code → twoFactorChallenges.verifyChallenge. In a process of its own;
// options as JSON in argv[2]. The orchestrator owns the SMTP server and forwards every code mail
// here ({type: 'code', to, code}); the result goes back over IPC.
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

async function post(path, body) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': userAgent },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, body: json, text };
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
