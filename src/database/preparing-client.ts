import { createHash } from 'node:crypto';
import pg from 'pg';

/**
 * Distinct statement texts given a name: every statement of this code is a constant (or one of
 * TypeORM's, built the same way each time), so a few hundred at most. Past this, new texts stay
 * unnamed, so that no caller building texts on the fly can grow every connection's statement cache.
 */
export const MAX_NAMED_STATEMENTS = 2000;

const names = new Map<string, string>();

/** The prepared statement's name for `text`: the same for the same text in every connection; undefined past the cap. */
export function statementName(text: string): string | undefined {
  let name = names.get(text);
  if (name === undefined) {
    if (names.size >= MAX_NAMED_STATEMENTS) return undefined;
    name = `tfa_${createHash('sha256').update(text).digest('base64url').slice(0, 32)}`;
    names.set(text, name);
  }
  return name;
}

type Query = (this: pg.Client, config: unknown, values?: unknown, callback?: unknown) => unknown;
const plainQuery = pg.Client.prototype.query as unknown as Query;

/**
 * The pool's connections (TypeORM's `extra.Client`): a statement with parameters is sent as a named
 * prepared statement, so PostgreSQL parses and plans it once per connection, then only binds and
 * executes it. TypeORM sends each one unnamed: parse, plan and execute every time, which for the
 * short statements of this service cost PostgreSQL about four times the execution alone (pgbench,
 * extended against prepared). Statements without parameters (BEGIN, COMMIT, DDL) stay as they are.
 *
 * A plan is kept per connection; PostgreSQL plans again by itself when a table it uses changes. No
 * statement here reads `*`, so a column added by a later migration changes no result's shape.
 */
export class PreparingClient extends pg.Client {}

PreparingClient.prototype.query = function (this: pg.Client, config: unknown, values?: unknown, callback?: unknown) {
  if (typeof config === 'string' && Array.isArray(values) && values.length > 0) {
    const name = statementName(config);
    if (name !== undefined) return plainQuery.call(this, { name, text: config, values }, callback);
  }
  return plainQuery.call(this, config, values, callback);
} as unknown as pg.Client['query'];
