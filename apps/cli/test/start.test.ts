// `npm start` (powersweep start): boots api + fitter + worker, migrates, answers /healthz and /readyz;
// with Redis unreachable it exits with one clear line.
import { afterEach, describe, expect, it } from "vitest";
import { freshDatabaseUrl, uniquePrefix } from "../../../test/env.ts";
import { freePort, runCli, spawnCli } from "./helpers.ts";

let child: ReturnType<typeof spawnCli> | undefined;
afterEach(() => {
  child?.kill("SIGKILL");
  child = undefined;
});

describe("powersweep start", () => {
  it("answers /readyz with 200 once it has started", async () => {
    const port = await freePort();
    child = spawnCli(["start"], {
      PORT: String(port),
      DATABASE_URL: await freshDatabaseUrl("start"),
      REDIS_PREFIX: uniquePrefix("start"),
    });
    const started = Date.now();
    let ready = 0;
    // Polls up to the test's limit: how fast it starts is for bench/, not for a test on a loaded machine.
    while (Date.now() - started < 50_000) {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
      if (res?.status === 200) {
        ready = Date.now() - started;
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(ready, child.output()).toBeGreaterThan(0);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    // SIGTERM: a clean, prompt shutdown.
    child.kill("SIGTERM");
    const code = await new Promise((r) => child!.on("exit", r));
    expect(code).toBe(0);
  });

  it("exits with one clear line when Redis is unreachable", async () => {
    const deadPort = await freePort();
    const res = await runCli(["start"], { PORT: String(await freePort()), REDIS_URL: `redis://127.0.0.1:${deadPort}` });
    expect(res.code).not.toBe(0);
    const lines = res.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`Redis is not reachable at 127\\.0\\.0\\.1:${deadPort}.*redis-server`));
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });
});
