// One way to run raw SQL on either Prisma (a client or a transaction) or a plain node-postgres pool.
import type { CopyPool, Db } from "@powersweep/db";

/**
 * A plain SQL pool (node-postgres `Pool` fits): hot paths (the worker's claims and results, an
 * accept's bulk inserts) use one, because each Prisma raw query costs far more CPU than the round
 * trip itself. Every orchestrator function that takes a SqlClient takes either.
 */
export interface SqlPool {
  query(q: { text: string; values?: unknown[]; name?: string }): Promise<{ rows: unknown[]; rowCount: number | null }>;
}
/** Prisma (a client, or the client of an interactive transaction) or a plain pool. */
export type SqlClient = Pick<Db, "$queryRawUnsafe" | "$executeRawUnsafe"> | SqlPool;

/** A plain pool that can also hand out a connection (node-postgres `Pool`): bulk inserts may use COPY. */
export const canCopy = (c: SqlClient): c is SqlPool & CopyPool =>
  !isPrisma(c) && typeof (c as Partial<CopyPool>).connect === "function";

const isPrisma = (c: SqlClient): c is Pick<Db, "$queryRawUnsafe" | "$executeRawUnsafe"> => "$queryRawUnsafe" in c;

/**
 * Rows of one statement. On a plain pool a `name` makes it a named (prepared) statement: parsed
 * and planned once per connection instead of once per call.
 */
export async function queryRows<T>(c: SqlClient, sql: string, params: unknown[], name?: string): Promise<T[]> {
  if (isPrisma(c)) return c.$queryRawUnsafe<T[]>(sql, ...params);
  return (await c.query({ text: sql, values: params, name })).rows as T[];
}

/** Rows affected by one statement (see queryRows for `name`). */
export async function execute(c: SqlClient, sql: string, params: unknown[], name?: string): Promise<number> {
  if (isPrisma(c)) return c.$executeRawUnsafe(sql, ...params);
  return (await c.query({ text: sql, values: params, name })).rowCount ?? 0;
}
