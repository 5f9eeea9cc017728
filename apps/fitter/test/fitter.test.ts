// The fitting service end to end on real Postgres/Redis: an imported sweep generated from a known
// law is fitted by the running fitter after a refit request; an unchanged input reuses the fit;
// the API serves the fit, CSV tables and predictions.

import { buildServer } from "@powersweep/api";
import { createDb } from "@powersweep/db";
import { createApiToken, createSweep } from "@powersweep/orchestrator";
import { createFitQueue, createRedis, createTrialQueue, requestFit } from "@powersweep/queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testConfig, uniquePrefix } from "../../../test/env.ts";
import { refitSweep, startFitter } from "../src/index.ts";

const config = testConfig({ redisPrefix: uniquePrefix("fitter") });
const db = createDb({ url: config.databaseUrl, max: 4 });
const redis = createRedis({ url: config.redisUrl });
const trialQueue = createTrialQueue(redis, config.redisPrefix);
const fitQueue = createFitQueue(redis, config.redisPrefix);
const deps = { db, trialQueue, redis, redisPrefix: config.redisPrefix, maxTrialsPerSweep: 200_000 };

// Rows from a known truth: loss(η) = L0 + 0.2·(ln η − ln η*)², η* = β·a·T^b (eq. 6), no noise.
const TRUTH = { a: 4.6, b: -0.51 };
function importRows() {
  const rows = [];
  for (const tokens of [1e8, 4e8, 1.6e9, 6.4e9]) {
    for (const batchSize of [32, 64, 128, 256]) {
      const etaStar = batchSize * TRUTH.a * tokens ** TRUTH.b;
      for (let k = -5; k <= 5; k++) {
        const lr = etaStar * 2 ** (k + 0.3);
        const testLoss = 3 + 0.2 * Math.log(lr / etaStar) ** 2;
        rows.push({ model: "d64", tokens, batchSize, lr, testLoss });
      }
    }
  }
  return rows;
}

let fitter: Awaited<ReturnType<typeof startFitter>>;
let sweepId: string;

beforeAll(async () => {
  const created = await createSweep(deps, { kind: "import", name: "known-law", rows: importRows() } as never);
  sweepId = created.id!;
  fitter = await startFitter(config, { log: () => {} });
});

afterAll(async () => {
  await fitter?.close();
  await trialQueue.close();
  await fitQueue.close();
  redis.disconnect();
  await db.$disconnect();
});

async function waitForFits(n: number, timeoutMs = 30_000) {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const fits = await db.fit.findMany({ where: { sweepId } });
    if (fits.length >= n) return fits;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no fit stored within ${timeoutMs} ms`);
}

describe("fitter", () => {
  it("fits a sweep when asked, recovering the law it was generated from", async () => {
    await requestFit(fitQueue, sweepId, 50);
    const [fit] = await waitForFits(1);
    const result = fit!.result as { law: { pooled: { a: number; b: number; r2: number } }; etaOpt: unknown[] };
    expect(result.etaOpt).toHaveLength(16);
    expect(result.law.pooled.b).toBeCloseTo(TRUTH.b, 3);
    expect(result.law.pooled.a / TRUTH.a).toBeCloseTo(1, 2);
    expect((fit!.inputs as { rowCount: number }).rowCount).toBe(16 * 11);
    // the input is referenced by its hash and count, not by a list of trial ids
    expect(fit!.inputs).not.toHaveProperty("trialIds");
    expect(JSON.stringify(fit!.inputs).length).toBeLessThan(200);
  });

  it("fits different sweeps concurrently: a small sweep's fit does not wait behind a large one", async () => {
    // many seeds make the large fit slow (seconds: every group's bootstrap resamples over them)
    const large = importRows().flatMap((r) => Array.from({ length: 200 }, (_, seed) => ({ ...r, seed })));
    const big = (await createSweep(deps, { kind: "import", name: "large", rows: large } as never)).id!;
    const small = (await createSweep(deps, { kind: "import", name: "small", rows: importRows().slice(0, 44) } as never))
      .id!;
    await requestFit(fitQueue, big, 0);
    // the large fit has started before the small one is asked for
    for (let i = 0; i < 600 && !(await fitQueue.getActiveCount()); i++) await new Promise((r) => setTimeout(r, 50));
    await requestFit(fitQueue, small, 0);
    // The small fit is taken while the large one still runs: both jobs active at once (whichever
    // thread finishes first on a loaded machine, the small one never queues behind the large one).
    let mostActive = 0;
    const stored = async (id: string) => {
      for (let i = 0; i < 1200; i++) {
        mostActive = Math.max(mostActive, await fitQueue.getActiveCount());
        const f = await db.fit.findFirst({ where: { sweepId: id } });
        if (f) return f;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no fit of ${id}`);
    };
    const smallFit = await stored(small);
    const bigFit = await stored(big);
    expect(mostActive).toBe(2);
    expect((smallFit.inputs as { rowCount: number }).rowCount).toBe(44);
    expect((bigFit.inputs as { rowCount: number }).rowCount).toBe(large.length);
  }, 120_000);

  it("reuses the stored fit when nothing changed, and refits when a result changes", async () => {
    const again = await refitSweep(db, sweepId);
    expect(again?.reused).toBe(true);
    expect(await db.fit.count({ where: { sweepId } })).toBe(1);
    const one = await db.trial.findFirstOrThrow({ where: { sweepId } });
    await db.trial.update({ where: { id: one.id }, data: { testLoss: (one.testLoss ?? 3) + 0.001 } });
    const changed = await refitSweep(db, sweepId);
    expect(changed?.reused).toBe(false);
    expect(await db.fit.count({ where: { sweepId } })).toBe(2);
  });

  it("is served by the API: fit JSON, CSV tables, predictions, ad-hoc fits", async () => {
    const app = buildServer({ db, redis, trialQueue, fitQueue, config });
    const { token } = await createApiToken(db, { name: `fit-submitter-${config.redisPrefix}`, scopes: ["submit"] });
    const auth = { authorization: `Bearer ${token}` };
    try {
      const fit = await app.inject({ method: "GET", url: `/v1/sweeps/${sweepId}/fit`, headers: auth });
      expect(fit.statusCode).toBe(200);
      expect(fit.json().law.pooled.b).toBeCloseTo(TRUTH.b, 2);
      expect(fit.json().inputs).toEqual({
        rowCount: 16 * 11,
        options: {},
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      });

      const csv = await app.inject({
        method: "GET",
        url: `/v1/sweeps/${sweepId}/fit?format=csv&table=etaOpt`,
        headers: auth,
      });
      expect(csv.headers["content-type"]).toMatch(/text\/csv/);
      expect(csv.body.trim().split("\n")).toHaveLength(1 + 16);

      // The paper's law: η = β·a·T^b = 128·4.6·(2e9)^−0.51 ≈ 0.0106.
      const paper = await app.inject({
        method: "GET",
        url: "/v1/predict?tokens=2e9&batchSize=128&a=4.6&b=-0.51",
        headers: auth,
      });
      expect(paper.statusCode).toBe(200);
      expect(paper.json().lr).toBeCloseTo(0.0106, 4);
      expect(paper.json().schedule).toMatchObject({ type: "power", powerA: 4.6, powerB: -0.51 });

      const fromSweep = await app.inject({
        method: "GET",
        url: `/v1/predict?tokens=1e12&batchSize=1024&sweep=${sweepId}`,
        headers: auth,
      });
      const p = fromSweep.json();
      expect(p.lr).toBeCloseTo(1024 * TRUTH.a * 1e12 ** TRUTH.b, 4);
      expect(p.ci95[0]).toBeLessThanOrEqual(p.lr);
      expect(p.ci95[1]).toBeGreaterThanOrEqual(p.lr);

      const missing = await app.inject({ method: "GET", url: "/v1/predict?tokens=1e9&batchSize=64", headers: auth });
      expect(missing.statusCode).toBe(400);
      expect(missing.headers["content-type"]).toMatch(/problem\+json/);

      const adhoc = await app.inject({
        method: "POST",
        url: "/v1/fits",
        headers: { ...auth, "content-type": "application/json" },
        payload: JSON.stringify({ rows: importRows() }),
      });
      expect(adhoc.statusCode).toBe(200);
      expect(adhoc.json().law.pooled.b).toBeCloseTo(TRUTH.b, 3);

      const bad = await app.inject({
        method: "POST",
        url: "/v1/fits",
        headers: { ...auth, "content-type": "application/json" },
        payload: JSON.stringify({ rows: [{ model: "x", tokens: -1, batchSize: 1, testLoss: 1 }] }),
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().errors[0].path).toBe("/body/rows/0/tokens");
    } finally {
      await app.close();
    }
  });
});
