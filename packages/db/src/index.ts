// Thin Prisma adapter: one way to open the database, for every app and test.

import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { PrismaClient } from "./generated/client.ts";

export * from "./generated/client.ts";
export type * from "./generated/models.ts";

export interface DbOptions {
  /** Postgres URL; default: DATABASE_URL. */
  url: string;
  /** Pool size for this process (default 10). */
  max?: number;
}

export function createDb({ url, max = 10 }: DbOptions): PrismaClient {
  const adapter = new PrismaPg({ connectionString: url, max, connectionTimeoutMillis: 5000 });
  return new PrismaClient({ adapter });
}

export type Db = PrismaClient;

export interface SqlPoolOptions extends DbOptions {
  /**
   * Commit without waiting for the WAL flush (synchronous_commit = off, this pool's sessions
   * only). Only for writes that a later synchronous commit makes durable (or that are worthless
   * without it): that commit flushes the WAL up to itself, so every earlier commit with it.
   */
  asyncCommit?: boolean;
  /**
   * plan_cache_mode = force_generic_plan (this pool's sessions only): prepared statements are
   * planned once, not re-planned per execution. Only for statements whose plan is right whatever
   * their parameters (e.g. primary-key probes).
   */
  genericPlans?: boolean;
}

/**
 * A plain node-postgres pool, for hot paths where a Prisma raw query costs far more CPU than the
 * round trip itself (bulk trial inserts, the worker's claims and results).
 */
export function createSqlPool({ url, max = 10, asyncCommit = false, genericPlans = false }: SqlPoolOptions): pg.Pool {
  const settings = [
    ...(asyncCommit ? ["-c synchronous_commit=off"] : []),
    ...(genericPlans ? ["-c plan_cache_mode=force_generic_plan"] : []),
  ];
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: 5000,
    ...(settings.length ? { options: settings.join(" ") } : {}),
  });
  // An idle client's error (e.g. the server restarted) must not crash the process; the next query reconnects.
  pool.on("error", () => {});
  return pool;
}

/** A pool that hands out connections (node-postgres `Pool`), as COPY needs one to itself. */
export type CopyPool = Pick<pg.Pool, "connect">;

/**
 * Runs `COPY … FROM STDIN` (text format) on one connection of `pool`, streaming `text` (rows
 * already in COPY's text format). Far cheaper per row in Postgres than INSERT … SELECT from a
 * JSON parameter; it commits on its own, like any statement outside a transaction.
 */
export async function copyText(pool: CopyPool, sql: string, text: string): Promise<number> {
  const client = await pool.connect();
  try {
    const stream = client.query(copyFrom(sql));
    await pipeline(Readable.from([text]), stream);
    client.release();
    return stream.rowCount;
  } catch (err) {
    client.release(err as Error); // a connection whose COPY failed is not reused
    throw err;
  }
}
