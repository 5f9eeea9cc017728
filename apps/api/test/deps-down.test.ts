// Postgres or Redis unreachable: every route that needs it answers 503 problem+json with
// Retry-After and the dependency named, never 500 and never a hang. The API is pointed at a
// closed port; the real services stay up.
import { createDb } from "@powersweep/db";
import { createRedis, createTrialQueue } from "@powersweep/queue";
import type { PowersweepConfig } from "@powersweep/runtime";
import { describe, expect, test } from "vitest";
import { testConfig, uniquePrefix } from "../../../test/env.ts";
import { buildServer } from "../src/index.ts";
import { lrGrid } from "./helpers.ts";

const CLOSED_PORT = 1;

async function withApi(
  overrides: Partial<PowersweepConfig>,
  auth: boolean,
  run: (app: ReturnType<typeof buildServer>) => Promise<void>,
) {
  const config = testConfig({ redisPrefix: uniquePrefix("down"), ...overrides });
  const db = createDb({ url: config.databaseUrl, max: 2 });
  const redis = createRedis({ url: config.redisUrl });
  redis.on("error", () => {});
  const trialQueue = createTrialQueue(redis, config.redisPrefix);
  trialQueue.on("error", () => {});
  const app = buildServer({ db, redis, trialQueue, config, auth, strictResponses: true });
  await app.ready();
  try {
    await run(app);
  } finally {
    await app.close().catch(() => {});
    redis.disconnect();
    await db.$disconnect().catch(() => {});
  }
}

const submit = { method: "POST" as const, url: "/v1/sweeps", payload: JSON.stringify(lrGrid()) };

function expectDown(
  res: { statusCode: number; headers: Record<string, unknown>; json: () => unknown },
  dependency: string,
) {
  expect(res.statusCode).toBe(503);
  expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
  expect(Number(res.headers["retry-after"])).toBeGreaterThan(0);
  expect(res.json()).toMatchObject({ status: 503, dependency });
}

describe("dependencies down", () => {
  test("Postgres unreachable: 503 naming postgres on reads, writes, auth and /metrics", async () => {
    await withApi({ databaseUrl: `postgresql://postgres@127.0.0.1:${CLOSED_PORT}/powersweep` }, true, async (app) => {
      const headers = { authorization: "Bearer some-token", "content-type": "application/json" };
      for (const req of [
        { method: "GET" as const, url: "/v1/sweeps" },
        { method: "GET" as const, url: "/v1/sweeps/00000000-0000-4000-8000-000000000000" },
        submit,
        { method: "GET" as const, url: "/metrics" },
      ]) {
        expectDown(await app.inject({ ...req, headers }), "postgres");
      }
      const ready = await app.inject({ method: "GET", url: "/readyz" });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toMatchObject({ status: "unavailable", redis: "ok" });
      expect(ready.json().postgres).toMatch(/unreachable: \S/);
    });
  }, 60_000);

  test("Redis unreachable: writes and /metrics get 503 naming redis; reads still work", async () => {
    await withApi({ redisUrl: `redis://127.0.0.1:${CLOSED_PORT}` }, false, async (app) => {
      const headers = { "content-type": "application/json" };
      expectDown(await app.inject({ ...submit, headers }), "redis");
      expectDown(await app.inject({ method: "GET", url: "/metrics" }), "redis");
      const list = await app.inject({ method: "GET", url: "/v1/sweeps?limit=1" });
      expect(list.statusCode).toBe(200);
    });
  }, 60_000);
});
