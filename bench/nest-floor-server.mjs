// The Nest floor: the floor's `GET /me` (floor-server.mjs) as the least Nest application can do it,
// on the Nest and Fastify the service runs: one module, one controller, a guard that hashes the token
// and runs the same named prepared statement. What the service adds on top of this is its own cost;
// what this adds on top of the bare floor is Nest's. Plain JavaScript: the decorators are applied as
// the TypeScript compiler would. Env: PORT, DATABASE_URL (the floor's database).
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { Controller, Get, Injectable, Module, Req, UnauthorizedException, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import pg from 'pg';

// As in floor-server.mjs.
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 });
const FIND_SESSION = {
  name: 'floor-find-session',
  text: 'SELECT user_id, username, name FROM floor_sessions WHERE token_hash = $1 AND revoked_at IS NULL',
};

class SessionGuard {
  async canActivate(context) {
    const request = context.switchToHttp().getRequest();
    const token = request.headers['x-auth-token'];
    if (typeof token !== 'string') throw new UnauthorizedException();
    const tokenHash = createHash('sha256').update(token).digest('hex');
    const { rows } = await pool.query({ ...FIND_SESSION, values: [tokenHash] });
    const session = rows[0];
    if (!session || session.user_id !== request.headers['x-user-id']) throw new UnauthorizedException();
    request.session = session;
    return true;
  }
}
Injectable()(SessionGuard);

class MeController {
  me(request) {
    const { session } = request;
    return { _id: session.user_id, username: session.username, name: session.name, success: true };
  }
}
const me = Object.getOwnPropertyDescriptor(MeController.prototype, 'me');
Req()(MeController.prototype, 'me', 0);
UseGuards(SessionGuard)(MeController.prototype, 'me', me);
Get('me')(MeController.prototype, 'me', me);
Controller()(MeController);

class FloorModule {}
Module({ controllers: [MeController], providers: [SessionGuard] })(FloorModule);

const app = await NestFactory.create(FloorModule, new FastifyAdapter(), { logger: false });
process.once(
  'SIGTERM',
  () =>
    void app
      .close()
      .then(() => pool.end())
      .then(() => process.exit(0)),
);
await app.listen(Number(process.env.PORT), '127.0.0.1');
