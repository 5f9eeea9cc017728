// GET /v1/sweeps/:id/curves/predict on real Postgres: a sweep whose trials carry curves drawn from
// the Tissue law (L0 lowest at the middle lr) is fitted per (model, β, η) and predicts a longer run.
import { lawLoss, prepareRun } from "@powersweep/fit";
import type { TrialConfig } from "@powersweep/spec";
import { afterAll, beforeAll, expect, test } from "vitest";
import { lrGrid, startTestApi, type TestApi } from "./helpers.ts";

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi("curves");
});
afterAll(() => api.close());

const get = (url: string) => api.app.inject({ method: "GET", url, headers: api.auth() });
const post = (url: string, payload: unknown) =>
  api.app.inject({
    method: "POST",
    url,
    headers: { ...api.auth(), "content-type": "application/json" },
    payload: JSON.stringify(payload),
  });

const TRUTH = (lr: number) => ({ L0: 2 + 0.05 * Math.log2(lr / 3e-3) ** 2, A: 0.3, alpha: 0.5, C: 0.3 });

/** Marks every trial succeeded with a curve of the law at its lr (every step) and a test loss. */
async function storeCurves(sweepId: string) {
  const trials = await api.db.trial.findMany({ where: { sweepId } });
  for (const t of trials) {
    const config = t.config as unknown as TrialConfig;
    const run = prepareRun(config, "tissue");
    const truth = TRUTH(t.lr as number);
    const data = [];
    for (let step = 2; step <= run.trace.steps; step++)
      data.push({
        trialId: t.id,
        attempt: 1,
        step,
        tokens: step * run.trace.tokensPerStep,
        lr: run.trace.lrs[step - 1] as number,
        trainLoss: lawLoss("tissue", truth, run, step - 1) * (1 + 0.002 * Math.sin(step * 12.9898)),
      });
    await api.db.trialMetric.createMany({ data });
    await api.db.trial.update({
      where: { id: t.id },
      data: { status: "succeeded", testLoss: lawLoss("tissue", truth, run, run.trace.steps) + 0.03, resultAttempt: 1 },
    });
  }
}

test("predicts each group's final loss at an untrained T and η_opt from the predictions", async () => {
  const created = await post(
    "/v1/sweeps",
    lrGrid({ name: "curves", axes: { ...lrGrid().axes, lr: [1e-3, 3e-3, 9e-3] } }),
  );
  expect(created.statusCode).toBe(201);
  const { id } = created.json();
  // Before any trial finished there is nothing to fit.
  expect((await get(`/v1/sweeps/${id}/curves/predict?tokens=4e5`)).statusCode).toBe(422);
  await storeCurves(id);

  const res = await get(`/v1/sweeps/${id}/curves/predict?tokens=4e5&law=tissue&points=20`);
  expect(res.statusCode).toBe(200);
  const body = res.json();
  expect(body.predicted).toBe(true);
  expect(body.groups).toHaveLength(6); // 2 batch sizes × 3 lrs
  for (const g of body.groups) {
    expect(g.error).toBeNull();
    expect(g.runs).toBe(2);
    expect(g.curve).toHaveLength(20);
    const config = {
      ...((await api.db.trial.findFirstOrThrow({ where: { sweepId: id } })).config as unknown as TrialConfig),
    };
    const run = prepareRun(
      { ...config, schedule: g.schedule, tokens: 4e5, batchSize: g.batchSize, seqLen: config.seqLen },
      "tissue",
    );
    const expected = lawLoss("tissue", TRUTH(g.lr), run, run.trace.steps) + 0.03;
    expect(Math.abs(g.final.testLoss - expected)).toBeLessThan(0.03);
    expect(g.final.ci95[0]).toBeLessThan(g.final.testLoss);
  }
  expect(body.etaOpt).toHaveLength(2);
  for (const e of body.etaOpt) {
    expect(e.predicted).toBe(true);
    expect(e.etaOpt).toBeGreaterThan(1e-3);
    expect(e.etaOpt).toBeLessThan(9e-3);
  }
  expect(body.advice[0].gain).toBeGreaterThanOrEqual(0);

  // Filters, another schedule, and bad input naming the field.
  const cos = await get(`/v1/sweeps/${id}/curves/predict?tokens=4e5&law=tissue&schedule=cosine&batchSize=8`);
  expect(cos.statusCode).toBe(200);
  expect(cos.json().groups.map((g: { schedule: { type: string } }) => g.schedule.type)).toEqual([
    "cosine",
    "cosine",
    "cosine",
  ]);
  const bad = await get(`/v1/sweeps/${id}/curves/predict?tokens=4e5&decayFraction=2`);
  expect(bad.statusCode).toBe(400);
  expect(bad.headers["content-type"]).toContain("application/problem+json");
  expect(bad.body).toContain("decayFraction");
  const tooLong = await get(`/v1/sweeps/${id}/curves/predict?tokens=1000&law=tissue&warmupTokens=5000`);
  expect(tooLong.statusCode).toBe(400);
  expect(tooLong.json().detail).toMatch(/warmupTokens/);
  expect((await get("/v1/sweeps/00000000-0000-4000-8000-000000000000/curves/predict?tokens=1e5")).statusCode).toBe(404);
});
