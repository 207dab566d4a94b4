// What the scenarios need from the running service, obtained the way a client would: logins
// finished with codes read from the mail the service sent.

export const USER_AGENT = 'tfa-bench/1.0';

async function request(base, method, path, { body, headers = {} } = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'user-agent': USER_AGENT, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
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

const fail = (what, answer) => {
  throw new Error(`${what}: ${answer.status} ${answer.text.slice(0, 300)}`);
};

/** Surface 1: password, then the emailed code. The session is 2FA-remembered for USER_AGENT. */
export async function loginV1(base, mail, { username, email, password }) {
  const code = mail.nextCode(email);
  const first = await request(base, 'POST', '/api/v1/login', { body: { user: username, password } });
  if (first.status !== 401 || first.body?.error !== 'totp-required') fail('surface 1 login (expected totp-required)', first);
  const second = await request(base, 'POST', '/api/v1/login', { body: { user: username, password, code: await code } });
  if (second.status !== 200) fail('surface 1 login with the code', second);
  return { 'x-user-id': second.body.data.userId, 'x-auth-token': second.body.data.authToken };
}

/** Surface 2: login, then 2fa/login with the mailed code (digits only, as Singularity clients send it). */
export async function loginS2(base, mail, { email, password }) {
  const code = mail.nextCode(email);
  const first = await request(base, 'POST', '/api/auth/login', { body: { email, password } });
  const twoFactorToken = first.body?.twoFactorAuthenticationToken;
  if (first.status !== 200 || !twoFactorToken) fail('surface 2 login (expected a two-factor token)', first);
  const second = await request(base, 'POST', '/api/auth/2fa/login', {
    body: { email: (await code).replace('-', '') },
    headers: { 'x-two-factor-authentication-token': twoFactorToken },
  });
  if (second.status !== 200 || !second.body?.accessToken) fail('surface 2 2fa/login', second);
  return { authorization: `Bearer ${second.body.accessToken}` };
}

/**
 * Users with a verified address (so email 2FA is on), created by the admin through users.create:
 * a @Requires2FA route, passed on the admin session's remembered second factor.
 */
export async function createUsers(base, adminAuth, count, password) {
  const users = [];
  for (let i = 1; i <= count; i++) {
    const user = { username: `bench-user-${i}`, email: `bench-user-${i}@example.com`, password };
    const created = await request(base, 'POST', '/api/v1/users.create', {
      body: { ...user, name: `Bench User ${i}`, verified: true },
      headers: adminAuth,
    });
    if (created.status !== 200) fail(`users.create ${user.username}`, created);
    users.push(user);
  }
  return users;
}

/** One request as the scenario will send it, so a broken scenario fails here, not 10 s into a run. */
export async function check(base, { method, path, headers, body }) {
  const answer = await request(base, method, path, { headers, body: body && JSON.parse(body) });
  if (answer.status < 200 || answer.status >= 300) fail(`${method} ${path}`, answer);
}

/**
 * Whether `path` asks for a second factor at all when none is remembered: the same request with a
 * fresh personal access token (its session has never passed one). True: the route checked the
 * remembered factor in the scenario; false: the scenario did not exercise that check.
 */
export async function asksForSecondFactor(base, auth, { method, path, body }) {
  const tokenName = `bench-probe-${Date.now()}`;
  const created = await request(base, 'POST', '/api/v1/users.generatePersonalAccessToken', {
    body: { tokenName },
    headers: auth,
  });
  if (created.status !== 200) fail('users.generatePersonalAccessToken (probe)', created);
  const probe = await request(base, method, path, {
    body: body && JSON.parse(body),
    headers: { 'x-user-id': auth['x-user-id'], 'x-auth-token': created.body.token },
  });
  const removed = await request(base, 'POST', '/api/v1/users.removePersonalAccessToken', { body: { tokenName }, headers: auth });
  if (removed.status !== 200) fail('users.removePersonalAccessToken (probe)', removed);
  // Route guards answer {errorType: 'totp-required'}; login answers {error: 'totp-required'}.
  if (probe.status === 400 && [probe.body?.errorType, probe.body?.error].includes('totp-required')) return true;
  if (probe.status >= 200 && probe.status < 300) return false;
  return fail(`${method} ${path} with a personal access token (probe)`, probe);
}
