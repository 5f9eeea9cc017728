// Hostile input: numbers past what Postgres and the trainer hold, NUL and lone surrogates, query
// strings like ?offset=1e20, unknown trainers, tokens in query strings. Each is refused with a 4xx
// problem+json naming the field and nothing is written. Plus the hygiene every response carries.
import { registerWorker } from "@powersweep/orchestrator";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { buildServer } from "../src/index.ts";
import { METRICS_REFRESH_MS } from "../src/metrics.ts";
import { lrGrid, startTestApi, type TestApi } from "./helpers.ts";

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi("hostile", { maxTokensPerTrial: 1e12 });
});
afterAll(() => api.close());

const INT32_OVER = 2 ** 31;
const axes = lrGrid().axes;
const withAxes = (patch: Record<string, unknown>) => lrGrid({ axes: { ...axes, ...patch } });
const modelRow = "{name: a, dModel: 32, nLayers: 2, nHeads: 2, dHead: 16, mlpHidden: 128, baseWidth: 32}";
const yamlDoc = (batchSize: string) =>
  `kind: lr-grid\nname: y\naxes:\n  models: [${modelRow}]\n  tokens: [1e5]\n  batchSize: [${batchSize}]\n  lr: [0.001]\n`;

async function counts() {
  return { sweeps: await api.db.sweep.count(), trials: await api.db.trial.count() };
}

function expectProblem(
  res: { statusCode: number; headers: Record<string, unknown>; body: string; json: () => unknown },
  path: string,
) {
  expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
  expect(res.statusCode).toBeLessThan(500);
  expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
  const errors = (res.json() as { errors?: Array<{ path: string }> }).errors ?? [];
  expect(errors.map((e) => e.path)).toContainEqual(
    expect.stringMatching(new RegExp(`^${path.replace(/[/]/g, "\\/")}`)),
  );
}

const documents: Array<[string, string, string, string]> = [
  ["batchSize 2^31", JSON.stringify(withAxes({ batchSize: [INT32_OVER] })), "application/json", "/axes/batchSize/0"],
  ["batchSize 1e20", JSON.stringify(withAxes({ batchSize: [1e20] })), "application/json", "/axes/batchSize/0"],
  ["seeds 2^31", JSON.stringify(withAxes({ seeds: [INT32_OVER] })), "application/json", "/axes/seeds"],
  [
    "dModel 2^31",
    JSON.stringify(withAxes({ models: [{ ...axes.models[0], dModel: INT32_OVER }] })),
    "application/json",
    "/axes/models/0/dModel",
  ],
  ["YAML batchSize 3e9", yamlDoc("3000000000"), "application/yaml", "/axes/batchSize/0"],
  [
    "geometric batchSize past int",
    JSON.stringify(withAxes({ batchSize: { geometric: { from: 8, factor: 1000, count: 5 } } })),
    "application/json",
    "/axes/batchSize",
  ],
  ["tokens 1e308", JSON.stringify(withAxes({ tokens: [1e308] })), "application/json", "/axes/tokens"],
  [
    "tokens past MAX_TOKENS_PER_TRIAL",
    JSON.stringify(withAxes({ tokens: [2e12] })),
    "application/json",
    "/axes/tokens",
  ],
  ["NUL in name", JSON.stringify(lrGrid({ name: "a\u0000b" })), "application/json", "/name"],
  ["lone surrogate in name", JSON.stringify(lrGrid({ name: "a\ud800b" })), "application/json", "/name"],
  ["NUL in tag", JSON.stringify(lrGrid({ tags: ["x\u0000"] })), "application/json", "/tags/0"],
  [
    "lone surrogate in model name",
    JSON.stringify(withAxes({ models: [{ ...axes.models[0], name: "d\udc00" }] })),
    "application/json",
    "/axes/models/0/name",
  ],
  [
    "CSV import batchSize past int",
    "model,tokens,batchSize,lr,testLoss\nm,1e6,99999999999,0.001,3\n",
    "text/csv",
    "/rows/0/batchSize",
  ],
  ["CSV import NUL model", "model,tokens,batchSize,lr,testLoss\nm\u0000,1e6,8,0.001,3\n", "text/csv", "/rows/0/model"],
  ["CSV import tokens 1e300", "model,tokens,batchSize,lr,testLoss\nm,1e300,8,0.001,3\n", "text/csv", "/rows/0/tokens"],
  ["unknown trainer", JSON.stringify(lrGrid({ trainer: "no-such-trainer" })), "application/json", "/trainer"],
];

describe("documents", () => {
  test.each(documents)("%s: 4xx naming the field, nothing written", async (_label, body, type, path) => {
    const before = await counts();
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/sweeps?name=csv",
      headers: { ...api.auth(), "content-type": type },
      payload: body,
    });
    expectProblem(res, path);
    expect(await counts()).toEqual(before);
  });

  test("extend: values past int and past the tokens cap are refused", async () => {
    const created = await api.app.inject({
      method: "POST",
      url: "/v1/sweeps",
      headers: { ...api.auth(), "content-type": "application/json" },
      payload: JSON.stringify(lrGrid({ name: "extend target" })),
    });
    expect(created.statusCode).toBe(201);
    const id = created.json().id;
    for (const [ext, path] of [
      [{ batchSize: [INT32_OVER] }, "/batchSize/0"],
      [{ batchSize: { geometric: { from: 1e6, factor: 1e4, count: 3 } } }, "/batchSize"],
      [{ tokens: [5e12] }, "/tokens"],
      [{ seeds: [INT32_OVER] }, "/seeds"],
    ] as const) {
      const before = await counts();
      const res = await api.app.inject({
        method: "POST",
        url: `/v1/sweeps/${id}/extend`,
        headers: { ...api.auth(), "content-type": "application/json" },
        payload: JSON.stringify(ext),
      });
      expectProblem(res, path);
      expect(await counts()).toEqual(before);
    }
  });

  test("a trainer a live worker advertises is accepted", async () => {
    await registerWorker(api.db, {
      id: `hostile-${Date.now()}`,
      host: "h",
      pid: 1,
      devices: ["cpu:0"],
      backend: "tfjs,my-jax",
      version: "0",
    });
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/sweeps?dryRun=true",
      headers: { ...api.auth(), "content-type": "application/json" },
      payload: JSON.stringify(lrGrid({ trainer: "my-jax" })),
    });
    expect(res.statusCode).toBe(200);
  });
});

describe("query strings", () => {
  const sweepId = "00000000-0000-4000-8000-000000000000";
  test.each([
    ["/v1/sweeps?offset=1e20", "/querystring/offset"],
    ["/v1/sweeps?limit=NaN", "/querystring/limit"],
    ["/v1/sweeps?tag=%00", "/querystring/tag"],
    ["/v1/sweeps?status=finished", "/querystring/status"],
    [`/v1/sweeps/${sweepId}/trials?tokens=Infinity`, "/querystring/tokens"],
    [`/v1/sweeps/${sweepId}/trials?batchSize=99999999999`, "/querystring/batchSize"],
    [`/v1/sweeps/${sweepId}/trials?model=a%00b`, "/querystring/model"],
    ["/v1/sweeps/not-a-uuid", "/params/id"],
    ["/v1/predict?tokens=1e400&batchSize=8&a=1&b=-0.5", "/querystring/tokens"],
    ["/v1/predict?tokens=1e9&batchSize=8&a=1&b=0.5", "/querystring/b"],
  ])("%s: 400 naming %s", async (url, path) => {
    expectProblem(await api.app.inject({ method: "GET", url, headers: api.auth() }), path);
  });

  test("a token in the query string is never accepted, and never logged", async () => {
    const lines: string[] = [];
    const logged = buildServer({
      db: api.db,
      redis: api.redis,
      trialQueue: api.trialQueue,
      // Request lines are logged at LOG_LEVEL=debug only; that is where a token could leak.
      config: { ...api.config, logLevel: "debug" },
      auth: true,
      logger: { level: "debug", stream: { write: (line: string) => lines.push(line) } },
    });
    const res = await logged.inject({ method: "GET", url: `/v1/sweeps?token=${api.tokens.read}&limit=1` });
    await logged.close();
    expect(res.statusCode).toBe(401);
    expect(lines.join("\n")).toContain("token=[redacted]");
    expect(lines.join("\n")).not.toContain(api.tokens.read);
  });
});

describe("hygiene", () => {
  test("security headers on API, health and error responses", async () => {
    for (const url of ["/healthz", "/v1/sweeps", "/v1/nothing-here"]) {
      const res = await api.app.inject({ method: "GET", url, headers: api.auth() });
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.headers["x-frame-options"]).toBe("DENY");
      expect(String(res.headers["content-security-policy"])).toContain("frame-ancestors 'none'");
      expect(String(res.headers["content-security-policy"])).toContain("script-src 'self'");
    }
  });

  test("/metrics needs METRICS_TOKEN when one is set; a flood of scrapes runs one count per interval; counters move at once", async () => {
    const guarded = await startTestApi("metrics", { metricsToken: "scrape-secret" });
    try {
      expect((await guarded.app.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(401);
      const wrong = await guarded.app.inject({
        method: "GET",
        url: "/metrics",
        headers: { authorization: "Bearer nope" },
      });
      expect(wrong.statusCode).toBe(401);
      const scrape = () =>
        guarded.app.inject({ method: "GET", url: "/metrics", headers: { authorization: "Bearer scrape-secret" } });
      const value = (body: string, series: string) =>
        Number(new RegExp(`^${series.replace(/[{}]/g, "\\$&")} (\\S+)$`, "m").exec(body)?.[1] ?? Number.NaN);
      const t0 = Date.now();
      const first = await scrape();
      expect(first.statusCode).toBe(200);
      const before = value(first.body, 'powersweep_trials{status="queued"}');
      expect(before).toBeGreaterThanOrEqual(0);
      const submittedBefore = value(first.body, "powersweep_trials_submitted_total") || 0;
      const created = await guarded.app.inject({
        method: "POST",
        url: "/v1/sweeps",
        headers: { ...guarded.auth(), "content-type": "application/json" },
        payload: JSON.stringify(lrGrid({ name: "metrics cache" })),
      });
      expect(created.statusCode).toBe(201);
      // 300 scrapes at once: the gauges come from the last snapshot (no count statement per scrape)…
      const flood = await Promise.all(Array.from({ length: 300 }, scrape));
      expect(flood.every((r) => r.statusCode === 200)).toBe(true);
      const last = flood.at(-1)?.body ?? "";
      // one count statement per METRICS_REFRESH_MS at most (a slow machine may cross an interval)
      const intervals = 1 + Math.floor((Date.now() - t0) / METRICS_REFRESH_MS);
      expect(value(last, 'powersweep_metrics_refreshes_total{source="postgres"}')).toBeLessThanOrEqual(intervals);
      if (intervals === 1) expect(value(last, 'powersweep_trials{status="queued"}')).toBe(before);
      // …while the counters of what this process did move at once.
      expect(value(last, "powersweep_trials_submitted_total")).toBe(submittedBefore + created.json().trialCount);
      expect(value(last, 'powersweep_sweeps_submitted_total{kind="lr-grid"}')).toBe(1);
    } finally {
      await guarded.close();
    }
  });
});
