// Thin Prisma adapter: one way to open the database, for every app and test.
import { PrismaPg } from "@prisma/adapter-pg";
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
