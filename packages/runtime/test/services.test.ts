// Unreachable services must end in one clear line naming the service, where, and how to start it.
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { ensurePostgres, ensureRedis, loadConfig, ServiceUnavailableError } from "../src/index.ts";

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe("service checks", () => {
  it("names Redis, its address and the start command when it is down", async () => {
    const port = await closedPort();
    const err = await ensureRedis(`redis://127.0.0.1:${port}`).catch((e) => e);
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect(err.message).toContain(`Redis is not reachable at 127.0.0.1:${port}`);
    expect(err.message).toContain("redis-server");
    expect(err.message).not.toContain("\n");
  });

  it("names Postgres, its address and the start command when it is down", async () => {
    const port = await closedPort();
    const err = await ensurePostgres(`postgresql://postgres@127.0.0.1:${port}/x`).catch((e) => e);
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect(err.message).toContain(`Postgres is not reachable at 127.0.0.1:${port}/x`);
    expect(err.message).toContain("pg_ctlcluster");
    expect(err.message).not.toContain("\n");
  });

  it("passes against the real services and creates a missing database", async () => {
    const u = new URL(process.env.TEST_ADMIN_DATABASE_URL!);
    const name = `powersweep_svc_${Date.now().toString(36)}`;
    u.pathname = `/${name}`;
    await ensurePostgres(u.toString());
    await ensureRedis(process.env.REDIS_URL!);
    const pg = (await import("pg")).default;
    const c = new pg.Client({ connectionString: process.env.TEST_ADMIN_DATABASE_URL });
    await c.connect();
    const r = await c.query("select 1 from pg_database where datname = $1", [name]);
    expect(r.rowCount).toBe(1);
    await c.query(`DROP DATABASE "${name}"`);
    await c.end();
  });

  it("reads configuration from the environment with documented defaults", () => {
    const c = loadConfig({ PORT: "9000", REDIS_PREFIX: "x" });
    expect(c.port).toBe(9000);
    expect(c.redisPrefix).toBe("x");
    expect(c.databaseUrl).toBe("postgresql://postgres@127.0.0.1:5432/powersweep");
    expect(() => loadConfig({ PORT: "abc" })).toThrow(/PORT must be a non-negative integer/);
  });
});
