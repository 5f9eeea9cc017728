// Adaptive η search end to end (docs/documents.md, `axes.lr.search`) on real Postgres and Redis:
// worker processes run an exec trainer that answers from a loss surface with a known optimum
// (surface-trainer.mjs), the fitter refits after each round and its search step adds the next
// learning rates, until every (model, T, β) cell has found η* and the sweep completes. One cell's
// optimum lies past the initial range: the search extends it. A rerun of a step adds nothing,
// concurrent steps add each trial once, and without a fitter the sweeper runs the steps.
import { join } from "node:path";
import { buildServer } from "@powersweep/api";
import { createDb, type Db } from "@powersweep/db";
import type { SweepFit } from "@powersweep/fit";
import { completeSweepIfDone, createApiToken, createSweep, reconcile, runSearchStep } from "@powersweep/orchestrator";
import { createFitQueue, createTrialQueue, type TrialQueue } from "@powersweep/queue";
import type { LrGridSweep } from "@powersweep/spec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabaseUrl, testConfig, uniquePrefix } from "../../../test/env.ts";
import { type Fleet, startFleet, sweepDone } from "../../worker/test/fleet.ts";
import { startFitter } from "../src/index.ts";
// @ts-expect-error: a plain ES module without types (the exec trainer itself)
import { etaStar, surfaceLoss } from "./surface-trainer.mjs";

const TRAINER = join(import.meta.dirname, "surface-trainer.mjs");
const SEARCH = { from: 1e-3, to: 1e-1, tolerance: 1.25, maxTrials: 10, initialPoints: 5 };

let fleet: Fleet;
let fitter: Awaited<ReturnType<typeof startFitter>>;

beforeAll(async () => {
  fleet = await startFleet("search");
  fitter = await startFitter(testConfig({ databaseUrl: fleet.databaseUrl, redisPrefix: fleet.prefix }), {
    log: () => {},
  });
  await fleet.spawnWorker(["--concurrency", "2", "--trainer-exec", `surface=${process.execPath} ${TRAINER}`]);
}, 120_000);
afterAll(async () => {
  await fitter?.close();
  await fleet?.close();
});

const doc = (name: string, tokens: number[]): LrGridSweep => ({
  kind: "lr-grid",
  name,
  trainer: "surface",
  share: "none",
  axes: {
    models: [{ name: "d16-L1", dModel: 16, nLayers: 1, nHeads: 2, dHead: 8, mlpHidden: 32, baseWidth: 16 }],
    tokens,
    batchSize: [4, 8],
    lr: { search: SEARCH },
  },
  schedule: { type: "wsd", decayFraction: 0.25 },
  training: { seqLen: 16, evalTokens: 256 },
});

const deps = () => ({ db: fleet.db, trialQueue: fleet.queue, maxTrialsPerSweep: 1000 });

describe("adaptive η search", () => {
  it("converges on η* in every cell, extending the range past its top where η* lies there", async () => {
    // submitted through the API, as `powersweep submit` does
    const config = testConfig({ databaseUrl: fleet.databaseUrl, redisPrefix: fleet.prefix });
    const fitQueue = createFitQueue(fleet.redis, fleet.prefix);
    const app = buildServer({ db: fleet.db, redis: fleet.redis, trialQueue: fleet.queue, fitQueue, config });
    const { token } = await createApiToken(fleet.db, { name: "searcher", scopes: ["submit"] });
    const headers = { authorization: `Bearer ${token}` };
    const res = await app.inject({
      method: "POST",
      url: "/v1/sweeps",
      headers,
      payload: doc("search", [2048, 8192]),
    });
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json() as { id: string; trialCount: number; size: { searchMaxTrials: number } };
    expect(created.trialCount).toBe(2 * 2 * SEARCH.initialPoints);
    expect(created.size.searchMaxTrials).toBe(2 * 2 * SEARCH.maxTrials);
    await sweepDone(fleet.db, created.id, 240_000);
    const trials = await fleet.db.trial.findMany({ where: { sweepId: created.id } });
    const fit = (await fleet.db.fit.findFirst({ where: { sweepId: created.id }, orderBy: { createdAt: "desc" } }))!
      .result as unknown as SweepFit;
    for (const tokens of [2048, 8192])
      for (const batchSize of [4, 8]) {
        const cell = trials.filter((t) => t.tokens === tokens && t.batchSize === batchSize);
        const truth = etaStar(tokens, batchSize) as number;
        expect(cell.every((t) => t.status === "succeeded" || t.status === "diverged")).toBe(true);
        expect(cell.length).toBeLessThanOrEqual(SEARCH.maxTrials);
        expect(cell.filter((t) => t.placedBy === "search:coarse")).toHaveLength(SEARCH.initialPoints);
        expect(cell.some((t) => t.placedBy === "search:refine")).toBe(true);
        // the best run is within the tolerance of η*, and so is the fitted η_opt
        const best = cell.reduce((a, b) => ((a.testLoss ?? 99) <= (b.testLoss ?? 99) ? a : b));
        expect(Math.abs(Math.log(best.lr! / truth))).toBeLessThan(Math.log(SEARCH.tolerance ** 2));
        const group = fit.etaOpt.find((g) => g.tokens === tokens && g.batchSize === batchSize)!;
        expect(Math.abs(Math.log(group.etaOpt / truth))).toBeLessThan(Math.log(SEARCH.tolerance));
        expect(best.testLoss).toBeCloseTo(surfaceLoss(best.lr, tokens, batchSize) as number, 9);
        if (truth > SEARCH.to) {
          const extended = cell.filter((t) => t.placedBy === "search:extend-higher");
          expect(extended.length).toBeGreaterThan(0);
          expect(Math.max(...extended.map((t) => t.lr!))).toBeGreaterThan(SEARCH.to);
        }
      }
    // the trial list shows the step that placed each trial
    const listed = await app.inject({ method: "GET", url: `/v1/sweeps/${created.id}/trials?limit=100`, headers });
    expect(listed.statusCode).toBe(200);
    const items = (listed.json() as { items: Array<{ placedBy: string | null }> }).items;
    expect(items).toHaveLength(trials.length);
    expect(new Set(items.map((t) => t.placedBy))).toEqual(
      new Set(["search:coarse", "search:refine", "search:extend-higher"]),
    );
    await app.close();
    await fitQueue.close();
    // once completed, a rerun of the step changes nothing
    const again = await runSearchStep(deps(), created.id, fit);
    expect(again?.added).toBe(0);
    expect(await fleet.db.trial.count({ where: { sweepId: created.id } })).toBe(trials.length);
  }, 300_000);

  it("adds each step's trials once, under concurrent and repeated steps", async () => {
    // A database of its own, without workers or a sweeper: the coarse trials are finished by hand.
    const db = createDb({ url: await freshDatabaseUrl("search-steps"), max: 4 });
    const trialQueue = createTrialQueue(fleet.redis, uniquePrefix("search-steps"));
    try {
      await steps(db, trialQueue);
    } finally {
      await trialQueue.close();
      await db.$disconnect();
    }
  }, 60_000);
});

/** Every queued trial of the sweep finished by hand, on the surface, some minutes ago. */
async function finishQueued(db: Db, sweepId: string) {
  const queued = await db.trial.findMany({ where: { sweepId, status: "queued" } });
  const finishedAt = new Date(Date.now() - 600_000);
  for (const t of queued) {
    const testLoss = surfaceLoss(t.lr, t.tokens, t.batchSize) as number;
    await db.trial.update({ where: { id: t.id }, data: { status: "succeeded", testLoss, finishedAt } });
  }
  return queued.length;
}

async function steps(db: Db, trialQueue: TrialQueue) {
  const noQueue = { db, trialQueue };
  const created = await createSweep({ ...noQueue, maxTrialsPerSweep: 1000 }, doc("steps", [2048]));
  const id = created.id!;
  const coarse = await db.trial.findMany({ where: { sweepId: id } });
  await finishQueued(db, id);
  // nothing queued or running, but the search has steps to run: the worker's check leaves it
  expect(await completeSweepIfDone(db, id)).toBe(false);
  const results = await Promise.all([1, 2, 3].map(() => runSearchStep(noQueue, id, null)));
  const added = results.reduce((s, x) => s + (x?.added ?? 0), 0);
  expect(added).toBeGreaterThan(0);
  // one step placed them; the others saw them queued
  expect(results.filter((x) => (x?.added ?? 0) > 0)).toHaveLength(1);
  const after = await db.trial.findMany({ where: { sweepId: id, status: "queued" } });
  expect(after).toHaveLength(added);
  expect(after.every((t) => t.placedBy === "search:refine")).toBe(true);
  // a rerun while they are queued adds nothing, and the sweep is not completed meanwhile
  expect((await runSearchStep(noQueue, id, null))?.added).toBe(0);
  const sweep = await db.sweep.findUniqueOrThrow({ where: { id } });
  expect(sweep.status).not.toBe("completed");
  expect(sweep.trialCount).toBe(coarse.length + added);
  // Without a fitter, the sweeper runs the steps of a sweep left idle, until the search is done.
  for (let round = 0; round < 20; round++) {
    await finishQueued(db, id);
    await db.$executeRawUnsafe(
      `UPDATE "Sweep" SET status = 'running', "updatedAt" = now() - interval '10 minutes' WHERE id = $1::uuid`,
      id,
    );
    const r = await reconcile(db, trialQueue, { sweepIds: [id], searchIdleMs: 60_000 });
    expect(r.searchSteps).toBe(1);
    if ((await db.sweep.findUniqueOrThrow({ where: { id } })).status === "completed") break;
  }
  expect((await db.sweep.findUniqueOrThrow({ where: { id } })).status).toBe("completed");
  for (const batchSize of [4, 8]) {
    const cell = await db.trial.findMany({ where: { sweepId: id, batchSize } });
    expect(cell.length).toBeLessThanOrEqual(SEARCH.maxTrials);
    const best = cell.reduce((a, b) => ((a.testLoss ?? 99) <= (b.testLoss ?? 99) ? a : b));
    expect(Math.abs(Math.log(best.lr! / (etaStar(2048, batchSize) as number)))).toBeLessThan(
      Math.log(SEARCH.tolerance ** 2),
    );
  }
}
