// Dense curves (TrialCurve): one document per attempt, written once, served with the trial detail
// for its recorded attempt.
import { createDb } from "@powersweep/db";
import pg from "pg";
import { afterAll, expect, test } from "vitest";
import { testConfig } from "../../../test/env.ts";
import { getTrial, markRunning, recordCurve, recordResults } from "../src/index.ts";

const db = createDb({ url: testConfig().databaseUrl, max: 2 });
const sql = new pg.Pool({ connectionString: testConfig().databaseUrl, max: 2 });
afterAll(async () => {
  await sql.end();
  await db.$disconnect();
});

const curveOf = (n: number, loss: number) => ({
  step: Array.from({ length: n }, (_, i) => i + 1),
  tokens: Array.from({ length: n }, (_, i) => (i + 1) * 512),
  lr: Array.from({ length: n }, () => 0.01),
  trainLoss: Array.from({ length: n }, (_, i) => loss - i / n),
  eval: {
    step: [20, 40, 60, 80, 90, 100],
    tokens: [1, 2, 3, 4, 5, 6],
    loss: [3, 2.8, 2.7, 2.6, 2.55, 2.4],
    targets: 4096,
  },
});

test("a curve per attempt, written once; the trial detail serves the recorded attempt's", async () => {
  const sweep = await db.sweep.create({
    data: { name: "curves", kind: "lr_grid", spec: {}, trainer: "sleep", trialCount: 1 },
  });
  const trial = await db.trial.create({
    data: { sweepId: sweep.id, key: "k1", config: {}, model: "m", tokens: 51_200, batchSize: 8 },
  });
  expect(await getTrial(db, trial.id)).toMatchObject({ curve: null, curveAttempt: null });
  await markRunning(sql, trial.id, "w1");
  expect(await recordCurve(sql, trial.id, 1, curveOf(100, 5))).toBe(true);
  expect(await recordCurve(sql, trial.id, 1, curveOf(3, 9))).toBe(false); // a repeat changes nothing
  await recordResults(sql, [{ trialId: trial.id, attempt: 1, record: { status: "succeeded", testLoss: 2.4 } }]);
  const detail = await getTrial(db, trial.id);
  expect(detail.curveAttempt).toBe(1);
  expect(detail.curve).toEqual(curveOf(100, 5));
  // a later attempt's curve (say a retried run that never recorded) does not replace the recorded one
  expect(await recordCurve(sql, trial.id, 2, curveOf(10, 7))).toBe(true);
  expect((await getTrial(db, trial.id)).curve).toEqual(curveOf(100, 5));
  // deleting the trial deletes its curves
  await db.trial.delete({ where: { id: trial.id } });
  expect(await db.trialCurve.count({ where: { trialId: trial.id } })).toBe(0);
});
