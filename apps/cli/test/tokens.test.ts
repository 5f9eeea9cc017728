// README's "Running the stack" token steps through the real CLI: `powersweep start` on a new
// database prints a first admin token once; with it, `token create` works from another directory
// with only --server (no database access); revoked and unknown tokens get their own hints; the
// operator's --database-url path never creates a database.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { freshDatabaseUrl, uniquePrefix } from "../../../test/env.ts";
import { freePort, runCli, spawnCli } from "./helpers.ts";

let child: ReturnType<typeof spawnCli> | undefined;
afterEach(() => {
  child?.kill("SIGKILL");
  child = undefined;
});

async function startStack(env: NodeJS.ProcessEnv, port: number) {
  const proc = spawnCli(["start"], env);
  child = proc;
  for (let i = 0; i < 240; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
    if (res?.status === 200) return proc;
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the stack did not start:\n${proc.output()}`);
}

async function stop(proc: ReturnType<typeof spawnCli>) {
  proc.kill("SIGTERM");
  await new Promise((r) => proc.on("exit", r));
}

describe("token management through the API", () => {
  it("first admin token from `start`, once; tokens made from elsewhere with only --server", async () => {
    const port = await freePort();
    const server = `http://127.0.0.1:${port}`;
    const env = {
      PORT: String(port),
      DATABASE_URL: await freshDatabaseUrl("tokens"),
      REDIS_PREFIX: uniquePrefix("tok"),
    };
    const first = await startStack(env, port);
    const admin = /^\s+(ps_\S+)$/m.exec(first.output())?.[1];
    expect(admin, first.output()).toBeTruthy();

    // another machine: another directory, no reachable database, only the server and the token
    const elsewhere = mkdtempSync(join(tmpdir(), "powersweep-cli-"));
    const remote = { DATABASE_URL: "postgresql://nobody@127.0.0.1:1/nothing", POWERSWEEP_TOKEN: "" };
    const run = (args: string[]) => runCli(["--server", server, ...args], remote, { cwd: elsewhere });
    const created = await run(["token", "create", "--name", "me", "--scope", "submit", "--token", admin!, "--json"]);
    expect(created.code, created.stderr).toBe(0);
    const me = JSON.parse(created.stdout) as { token: string; scopes: string[] };
    expect(me.scopes).toEqual(["submit"]);
    const status = await run(["status", "--token", me.token, "--json"]);
    expect(status.code, status.stderr).toBe(0);

    // a submit token cannot manage tokens
    const denied = await run(["token", "create", "--name", "more", "--token", me.token]);
    expect(denied.code).toBe(2);
    expect(denied.stderr).toMatch(/admin/);

    const list = await run(["token", "list", "--token", admin!, "--json"]);
    expect(JSON.parse(list.stdout).map((t: { name: string }) => t.name)).toEqual(["admin", "me"]);
    expect(list.stdout).not.toContain(me.token);

    const revoked = await run(["token", "revoke", "me", "--token", admin!]);
    expect(revoked.code, revoked.stderr).toBe(0);
    const after = await run(["status", "--token", me.token]);
    expect(after.code).toBe(2);
    expect(after.stderr).toMatch(/token revoked/);
    const unknown = await run(["status", "--token", "ps_nothing"]);
    expect(unknown.stderr).toMatch(/unknown token/);
    expect(unknown.stderr).not.toMatch(/revoked/);
    await stop(first);

    // the same database again: no new admin token is printed
    const again = await startStack(env, port);
    expect(again.output()).not.toMatch(/ps_/);
    await stop(again);
  }, 300_000);

  it("--database-url names what is wrong and never creates a database", async () => {
    const url = new URL(process.env.DATABASE_URL!);
    const missing = `${url.pathname.slice(1)}_missing_${Date.now().toString(36)}`;
    url.pathname = `/${missing}`;
    const res = await runCli(["token", "create", "--name", "x", "--database-url", url.toString()]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(new RegExp(`database "${missing}" does not exist`));
    const admin = new pg.Client({ connectionString: process.env.TEST_ADMIN_DATABASE_URL });
    await admin.connect();
    try {
      const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [missing]);
      expect(rowCount).toBe(0);
      // an empty (unmigrated) database is named as such
      const empty = `${missing}_empty`;
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(empty)}`);
      url.pathname = `/${empty}`;
      const res2 = await runCli(["token", "create", "--name", "x", "--database-url", url.toString()]);
      expect(res2.code).toBe(2);
      expect(res2.stderr).toMatch(/not migrated/);
      await admin.query(`DROP DATABASE ${pg.escapeIdentifier(empty)}`);
    } finally {
      await admin.end();
    }
    // and a migrated one works
    const ok = await runCli([
      "token",
      "create",
      "--name",
      `op-${Date.now().toString(36)}`,
      "--scope",
      "admin",
      "--database-url",
      process.env.DATABASE_URL!,
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/ps_/);
  }, 120_000);
});
