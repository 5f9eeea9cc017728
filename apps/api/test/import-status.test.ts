// Imported rows carry their outcome: succeeded, diverged or failed rows are stored as such, and a
// diverged import is divergence evidence in the fit (it brackets an optimum at the top of the grid).
import { fitSweep } from "@powersweep/fit";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestApi, type TestApi } from "./helpers.ts";

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi("import-status");
});
afterAll(() => api.close());

const post = (payload: string, contentType: string, name = "statuses") =>
  api.app.inject({
    method: "POST",
    url: `/v1/sweeps?name=${name}`,
    headers: { ...api.auth(), "content-type": contentType },
    payload,
  });

test("a CSV import stores each row's status, and the fit reads a diverged row as divergence evidence", async () => {
  // Loss falls to the top lr of the grid (an edge optimum); the next doubling diverged elsewhere.
  const csv = [
    "model,tokens,batchSize,lr,testLoss,status",
    "d64,1e6,32,0.001,3.0,succeeded",
    "d64,1e6,32,0.002,2.9,",
    "d64,1e6,32,0.004,2.85,succeeded",
    "d64,1e6,32,0.008,2.8,succeeded",
    "d64,1e6,32,0.016,,diverged",
    "d64,1e6,32,0.032,,failed",
  ].join("\n");
  const res = await post(csv, "text/csv");
  expect(res.statusCode, res.body).toBe(201);
  const trials = await api.db.trial.findMany({ where: { sweepId: res.json().id }, orderBy: { lr: "asc" } });
  expect(trials.map((t) => [t.lr, t.status, t.testLoss])).toEqual([
    [0.001, "succeeded", 3.0],
    [0.002, "succeeded", 2.9],
    [0.004, "succeeded", 2.85],
    [0.008, "succeeded", 2.8],
    [0.016, "diverged", null],
    [0.032, "failed", null],
  ]);
  expect(trials.every((t) => t.finishedAt !== null)).toBe(true);

  const fit = fitSweep(trials.map((t) => ({ ...t, status: t.status as string })));
  expect(fit.counts).toMatchObject({ used: 4, diverged: 1, failed: 1 });
  const g = fit.etaOpt[0];
  expect(g?.nDiverged).toBe(1);
  expect(g?.bracketedByDivergence).toBe(true);
  expect(g?.extend).toBeNull();
  // Without the diverged row the same grid asks to extend higher.
  const without = fitSweep(trials.filter((t) => t.status === "succeeded").map((t) => ({ ...t, status: "succeeded" })));
  expect(without.etaOpt[0]?.extend).toBe("higher");
});

test("a JSON import takes a status per row; a succeeded row still needs a loss", async () => {
  const ok = await post(
    JSON.stringify({
      kind: "import",
      name: "json-statuses",
      rows: [
        { model: "m", tokens: 1e6, batchSize: 8, lr: 1e-3, testLoss: 2.5 },
        { model: "m", tokens: 1e6, batchSize: 8, lr: 1e-1, status: "diverged" },
      ],
    }),
    "application/json",
  );
  expect(ok.statusCode, ok.body).toBe(201);
  const statuses = (await api.db.trial.findMany({ where: { sweepId: ok.json().id }, orderBy: { lr: "asc" } })).map(
    (t) => t.status,
  );
  expect(statuses).toEqual(["succeeded", "diverged"]);

  const noLoss = await post(
    JSON.stringify({
      kind: "import",
      name: "x",
      rows: [{ model: "m", tokens: 1e6, batchSize: 8, lr: 1e-3, status: "succeeded" }],
    }),
    "application/json",
  );
  expect(noLoss.statusCode).toBe(400);
  expect(noLoss.body).toMatch(/\/rows\/0/);
  expect(noLoss.body).toMatch(/testLoss or testPerplexity/);

  const badStatus = await post(
    JSON.stringify({
      kind: "import",
      name: "x",
      rows: [{ model: "m", tokens: 1e6, batchSize: 8, lr: 1e-3, status: "crashed" }],
    }),
    "application/json",
  );
  expect(badStatus.statusCode).toBe(400);
  expect(badStatus.body).toMatch(/\/rows\/0\/status/);
});
