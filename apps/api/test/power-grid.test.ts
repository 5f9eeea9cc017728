// A power-grid whose schedules η_max clamps is accepted with warnings that say so and what to change
// (dry run and submission); a grid where a and b matter gets none. The trial detail serves its curve.
import { readFileSync } from "node:fs";
import { recordCurve } from "@powersweep/orchestrator";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestApi } from "./helpers.ts";

let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi("power");
});
afterAll(async () => {
  await api?.close();
});

const example = readFileSync(new URL("../../../examples/power-grid.yaml", import.meta.url), "utf8");
const post = (url: string, body: string) =>
  api.app.inject({
    method: "POST",
    url,
    payload: body,
    headers: { ...api.auth(), "content-type": "application/yaml" },
  });

test("dry run and submission warn about a clamped power-grid, and not about the example", async () => {
  const clamped = example
    .replace("powerA: [0.25, 0.5, 1]", "powerA: [3, 4, 5]")
    .replace("etaMax: 0.08", "etaMax: 0.02")
    .replace("name: power a×b, tiny proxy", "name: clamped power grid");
  const dry = await post("/v1/sweeps?dryRun=true", clamped);
  expect(dry.statusCode).toBe(200);
  const warnings = dry.json().warnings as string[];
  expect(warnings.join("\n")).toMatch(/identical \(WSD at η_max\)/);
  expect(warnings.join("\n")).toMatch(/raise schedule\.etaMax to ≥ .*powerA ≤ .*or train ≥ .* tokens/);
  const created = await post("/v1/sweeps", clamped);
  expect(created.statusCode).toBe(201);
  expect(created.json().warnings).toEqual(warnings);
  const fine = await post("/v1/sweeps?dryRun=true", example);
  expect(fine.json().warnings).toEqual([]);

  // the trial detail carries the stored curve of its recorded attempt
  const id = created.json().id as string;
  const trial = await api.db.trial.findFirstOrThrow({ where: { sweepId: id } });
  await api.db.trial.update({ where: { id: trial.id }, data: { status: "succeeded", attempts: 1, resultAttempt: 1 } });
  const curve = {
    step: [1, 2],
    tokens: [256, 512],
    lr: [0.02, 0.02],
    trainLoss: [5.5, 5.3],
    eval: { step: [2], tokens: [512], loss: [5.2], targets: 64 },
  };
  await recordCurve(api.db, trial.id, 1, curve);
  const detail = await api.app.inject({ method: "GET", url: `/v1/trials/${trial.id}`, headers: api.auth() });
  expect(detail.json()).toMatchObject({ curve, curveAttempt: 1 });
});
