// The floor: the least a `GET /me` can cost on this stack. Bare Fastify and `pg`, one named
// (prepared) statement, one indexed lookup of the token's SHA-256 in a sessions-like table. The
// service's /api/v1/me does this and everything else it does; the gap between them is its overhead.
// Env: PORT, DATABASE_URL (a database seeded by bench/lib/floor-db.mjs).
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import pg from 'pg';

// The very Fastify the service runs on (a dependency of @nestjs/platform-fastify, not of this
// project), so the two differ only by what the service adds on top.
const require = createRequire(import.meta.url);
const Fastify = createRequire(require.resolve('@nestjs/platform-fastify'))('fastify');

// The service's pool size (src/database/data-source.options.ts), for a fair fight.
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 });
const FIND_SESSION = {
  name: 'floor-find-session',
  text: 'SELECT user_id, username, name FROM floor_sessions WHERE token_hash = $1 AND revoked_at IS NULL',
};

const app = Fastify({ logger: false });
app.get('/me', async (request, reply) => {
  const token = request.headers['x-auth-token'];
  if (typeof token !== 'string') return reply.code(401).send({ success: false });
  const tokenHash = createHash('sha256').update(token).digest('hex');
  const { rows } = await pool.query({ ...FIND_SESSION, values: [tokenHash] });
  const session = rows[0];
  if (!session || session.user_id !== request.headers['x-user-id']) return reply.code(401).send({ success: false });
  return { _id: session.user_id, username: session.username, name: session.name, success: true };
});

process.once(
  'SIGTERM',
  () =>
    void app
      .close()
      .then(() => pool.end())
      .then(() => process.exit(0)),
);
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
