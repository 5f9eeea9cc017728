// Group-committed results (createResultWriter / recordResults) keep the per-result guarantees:
// exactly one result per attempt, idempotent repeats, metrics written with the result, and a lost
// claim (the trial is at an earlier attempt) reported so the worker retries instead of acknowledging.
import { createDb } from "@powersweep/db";
import pg from "pg";
import { afterAll, expect, test } from "vitest";
import { testConfig } from "../../../test/env.ts";
import { createResultWriter, markRunning, recordResults } from "../src/index.ts";

const db = createDb({ url: testConfig().databaseUrl, max: 2 });
const sql = new pg.Pool({ connectionString: testConfig().databaseUrl, max: 3 });
afterAll(async () => {
  await sql.end();
  await db.$disconnect();
});

async function sweepWithTrials(n: number) {
  const tag = Math.random().toString(36).slice(2);
  const sweep = await db.sweep.create({
    data: { name: `results-${tag}`, kind: "lr_grid", spec: {}, trainer: "sleep", trialCount: n },
  });
  const rows = await db.$queryRawUnsafe<Array<{ id: string }>>(
    `INSERT INTO "Trial" (id, "sweepId", key, config, model, tokens, "batchSize", "updatedAt")
     SELECT gen_random_uuid(), $1::uuid, $2 || i::text, '{}'::jsonb, 'm', 1e6, 4, now() FROM generate_series(1, $3::int) i
     RETURNING id::text AS id`,
    sweep.id,
    tag,
    n,
  );
  return { sweepId: sweep.id, ids: rows.map((r) => r.id) };
}

test("concurrent results through the writer: each recorded once, with its metrics; repeats change nothing", async () => {
  const { ids } = await sweepWithTrials(12);
  for (const id of ids) expect((await markRunning(sql, id, "w1"))?.attempt).toBe(1);
  const writer = createResultWriter(sql);
  const record = (id: string, i: number) =>
    writer.record(id, 1, {
      status: "succeeded",
      trainLoss: 2 + i / 100,
      testLoss: 3 + i / 100,
      tokensSeen: 1e6,
      metrics: [{ step: 1, tokens: 16, lr: 1e-3, trainLoss: 5 + i }],
    });
  const first = await Promise.all(ids.map(record));
  expect(first.map((o) => o.recorded)).toEqual(ids.map(() => true));
  const again = await Promise.all(ids.map(record));
  expect(again.map((o) => o.recorded)).toEqual(ids.map(() => false));
  expect(again.some((o) => o.claimLost)).toBe(false);
  const trials = await db.trial.findMany({ where: { id: { in: ids } }, include: { metrics: true } });
  for (const t of trials) {
    const i = ids.indexOf(t.id);
    expect(t).toMatchObject({ status: "succeeded", resultAttempt: 1, trainLoss: 2 + i / 100, testLoss: 3 + i / 100 });
    expect(t.metrics.map((m) => m.trainLoss)).toEqual([5 + i]);
  }
});

test("one batch: a stale attempt is not recorded, a lost claim is reported, the others are recorded", async () => {
  const { sweepId, ids } = await sweepWithTrials(4);
  const [a, b, c, d] = ids as [string, string, string, string];
  for (const id of [a, b, c]) await markRunning(sql, id, "w1");
  await markRunning(sql, c, "w1"); // c is at attempt 2 now
  const out = await recordResults(sql, [
    { trialId: a, attempt: 1, record: { status: "succeeded", trainLoss: 1 } },
    { trialId: b, attempt: 2, record: { status: "failed", error: "crash", errorClass: "crash" } }, // claim of attempt 2 lost
    { trialId: c, attempt: 1, record: { status: "succeeded", trainLoss: 1 } }, // stale attempt
    { trialId: d, attempt: 1, record: { status: "succeeded", trainLoss: 1 } }, // never claimed: queued at attempt 0
  ]);
  expect(out.map((o) => o.recorded)).toEqual([true, false, false, false]);
  expect(out.map((o) => o.claimLost)).toEqual([false, true, false, true]);
  const byId = new Map((await db.trial.findMany({ where: { sweepId } })).map((t) => [t.id, t]));
  expect(byId.get(a)).toMatchObject({ status: "succeeded", resultAttempt: 1 });
  expect(byId.get(b)).toMatchObject({ status: "running", resultAttempt: null, attempts: 1 });
  expect(byId.get(c)).toMatchObject({ status: "running", resultAttempt: null, attempts: 2 });
  expect(byId.get(d)).toMatchObject({ status: "queued", resultAttempt: null });
  // The sweep still has running trials: the result that was recorded says it may check completion
  // only because few trials are open.
  expect(out[0]?.checkSweep).toBe(true);
});
