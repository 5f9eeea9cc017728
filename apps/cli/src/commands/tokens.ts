// Token management through the API (admin scope): works from any machine with --server and an admin
// token. `token create --database-url` is the operator's way in on the stack's own machine (e.g.
// when every admin token is lost): it never creates a database, and says what is wrong with it.
import { ApiClient, type ClientOptions } from "../client.ts";
import { CliError } from "../errors.ts";

interface TokenView {
  id: string;
  name: string;
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

function adminClient(g: ClientOptions): ApiClient {
  if (!g.token)
    throw new CliError(
      "token management needs an admin token: pass --token or set POWERSWEEP_TOKEN (`powersweep start` prints the first one on a new database)",
    );
  return new ApiClient(g);
}

function printCreated(created: { name: string; scopes: string[]; token: string }, json?: boolean) {
  if (json) return console.log(JSON.stringify(created));
  console.log(`token "${created.name}" (${created.scopes.join(", ")}) created. It is shown once; keep it:`);
  console.log(created.token);
}

export async function createToken(
  g: ClientOptions,
  o: { name: string; scope: string; json?: boolean; databaseUrl?: string },
) {
  if (o.databaseUrl) return printCreated(await createLocally(o.databaseUrl, o.name, o.scope), o.json);
  const created = await adminClient(g).post<TokenView & { token: string }>("/v1/tokens", {
    name: o.name,
    scopes: [o.scope],
  });
  printCreated(created, o.json);
}

export async function listTokens(g: ClientOptions, o: { json?: boolean }) {
  const { items } = await adminClient(g).get<{ items: TokenView[] }>("/v1/tokens");
  if (o.json) return console.log(JSON.stringify(items));
  for (const t of items) {
    console.log(
      `${t.id.slice(0, 8)}  ${t.name.padEnd(24)} ${t.scopes.join(",").padEnd(8)} ${t.revokedAt ? "revoked" : "active "}  created ${t.createdAt}`,
    );
  }
}

/** Revokes by name, id or id prefix (the active token that matches). */
export async function revokeToken(g: ClientOptions, which: string) {
  const client = adminClient(g);
  const { items } = await client.get<{ items: TokenView[] }>("/v1/tokens");
  const active = items.filter((t) => !t.revokedAt);
  const byName = active.filter((t) => t.name === which);
  const matches = byName.length ? byName : active.filter((t) => t.id.startsWith(which.toLowerCase()));
  if (!matches.length) throw new CliError(`no active token named "${which}" (or with that id)`);
  if (matches.length > 1)
    throw new CliError(`"${which}" matches ${matches.length} tokens: ${matches.map((t) => t.name).join(", ")}`);
  const t = matches[0]!;
  await client.request("DELETE", `/v1/tokens/${t.id}`);
  console.log(`token "${t.name}" revoked`);
}

/** The operator path: straight into an existing, migrated database. */
async function createLocally(databaseUrl: string, name: string, scope: string) {
  const { createDb, createSqlPool } = await import("@powersweep/db");
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new CliError(`--database-url: not a URL ("${databaseUrl}")`);
  }
  const database = decodeURIComponent(url.pathname.slice(1));
  const where = `${url.hostname}:${url.port || 5432}`;
  const probe = createSqlPool({ url: databaseUrl, max: 1 });
  try {
    const { rows } = await probe.query<{ t: string | null }>(`SELECT to_regclass('"ApiToken"')::text AS t`);
    if (!rows[0]?.t)
      throw new CliError(
        `--database-url: database "${database}" at ${where} has no powersweep tables (not migrated); point it at the stack's database, or run \`powersweep start\` against it first`,
      );
  } catch (err) {
    if (err instanceof CliError) throw err;
    if ((err as { code?: string }).code === "3D000")
      throw new CliError(
        `--database-url: database "${database}" does not exist at ${where}; point it at the stack's database (DATABASE_URL of \`powersweep start\`)`,
      );
    throw new CliError(`--database-url: cannot connect to Postgres at ${where} (${(err as Error).message})`);
  } finally {
    await probe.end().catch(() => {});
  }
  const { createApiToken } = await import("@powersweep/orchestrator");
  const db = createDb({ url: databaseUrl, max: 1 });
  try {
    return await createApiToken(db, { name, scopes: [scope] });
  } catch (err) {
    const e = err as Error & { code?: string };
    throw new CliError(e.code === "P2002" ? `a token named "${name}" already exists` : e.message);
  } finally {
    await db.$disconnect();
  }
}
