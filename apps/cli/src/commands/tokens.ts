// Token management talks to the database directly: it is run by whoever operates the stack.
import { createDb } from "@powersweep/db";
import { createApiToken, listApiTokens, revokeApiToken } from "@powersweep/orchestrator";
import { loadConfig } from "@powersweep/runtime";
import { CliError } from "../errors.ts";

async function withDb<T>(fn: (db: ReturnType<typeof createDb>) => Promise<T>): Promise<T> {
  const { ensurePostgres } = await import("@powersweep/runtime");
  const config = loadConfig();
  await ensurePostgres(config.databaseUrl);
  const db = createDb({ url: config.databaseUrl, max: 1 });
  try {
    return await fn(db);
  } finally {
    await db.$disconnect();
  }
}

export async function createToken(o: { name: string; scope: string; json?: boolean }) {
  const created = await withDb((db) => createApiToken(db, { name: o.name, scopes: [o.scope] })).catch((e: Error) => {
    throw new CliError(/unique/i.test(e.message) ? `a token named "${o.name}" already exists` : e.message);
  });
  if (o.json) console.log(JSON.stringify(created));
  else {
    console.log(`token "${o.name}" (${o.scope}) created. It is shown once; keep it:`);
    console.log(created.token);
  }
}

export async function listTokens(o: { json?: boolean }) {
  const tokens = await withDb((db) => listApiTokens(db));
  if (o.json) return console.log(JSON.stringify(tokens));
  for (const t of tokens) {
    console.log(
      `${t.name.padEnd(24)} ${t.scopes.join(",").padEnd(8)} ${t.revokedAt ? "revoked" : "active"}  created ${new Date(t.createdAt).toISOString()}`,
    );
  }
}

export async function revokeToken(name: string) {
  const ok = await withDb((db) => revokeApiToken(db, name));
  if (!ok) throw new CliError(`no active token named "${name}"`);
  console.log(`token "${name}" revoked`);
}
