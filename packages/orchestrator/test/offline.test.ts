// Offline export batches on Postgres: the export's claim and workers' claims race for the same
// trials and every trial ends with exactly one owner and one attempt; imports are idempotent per
// trial and attempt; a release gives unfinished trials back to the workers.
import { createDb } from "@powersweep/db";
import pg from "pg";
import { afterAll, expect, test } from "vitest";
import { testConfig } from "../../../test/env.ts";
import {
  claimTrialsForExport,
  createTrialWriter,
  importOfflineResults,
  markRunning,
  releaseExport,
} from "../src/index.ts";

const db = createDb({ url: testConfig().databaseUrl, max: 2 });
const sql = new pg.Pool({ connectionString: testConfig().databaseUrl, max: 6 });
afterAll(async () => {
  await sql.end();
  await db.$disconnect();
});

async function sweepWithTrials(n: number) {
  const tag = Math.random().toString(36).slice(2);
  const sweep = await db.sweep.create({
    data: { name: `offline-${tag}`, kind: "lr_grid", spec: {}, trainer: "torch", trialCount: n },
  });
  const rows = await db.$queryRawUnsafe<Array<{ id: string }>>(
    `INSERT INTO "Trial" (id, "sweepId", key, config, model, tokens, "batchSize", "updatedAt")
     SELECT gen_random_uuid(), $1::uuid, $2 || i::text, jsonb_build_object('i', i), 'm', 1e6, 4, now()
     FROM generate_series(1, $3::int) i
     RETURNING id::text AS id`,
    sweep.id,
    tag,
    n,
  );
  return { sweepId: sweep.id, ids: rows.map((r) => r.id) };
}

const succeeded = (trialId: string, attempt: number, testLoss = 3) => ({
  trialId,
  attempt,
  result: {
    status: "succeeded" as const,
    trainLoss: 3.1,
    testLoss,
    testPerplexity: Math.exp(testLoss),
    tokensSeen: 1e6,
  },
  metrics: [
    { step: 1, tokens: 1e5, lr: 1e-3, trainLoss: 5 },
    { step: 10, tokens: 1e6, lr: 1e-3, trainLoss: 3.1, evalLoss: testLoss },
  ],
});

test("an export and workers racing for the same trials: each trial has one owner and one attempt", async () => {
  const { sweepId, ids } = await sweepWithTrials(60);
  const writers = ["w1", "w2"].map((w) => createTrialWriter({ claimDb: sql, resultDb: sql, workerId: w }));
  // a worker is already running some trials: the export never takes a running trial
  const early = ids.slice(0, 20);
  for (const id of early) expect((await writers[0]?.claim(id))?.attempt).toBe(1);
  // the workers are handed the other jobs (BullMQ delivers them all) while the export claims
  const rest = ids.slice(20);
  const [exported, ...claims] = await Promise.all([
    claimTrialsForExport(sql, sweepId, "race"),
    ...rest.map((id, i) => (writers[i % 2] as (typeof writers)[number]).claim(id)),
  ]);
  const trials = await db.trial.findMany({ where: { sweepId } });
  expect(trials.map((t) => t.attempts)).toEqual(ids.map(() => 1));
  const byExport = new Set(trials.filter((t) => t.workerId === "export:race").map((t) => t.id));
  expect(new Set(exported.map((t) => t.trialId))).toEqual(byExport);
  for (const id of early) expect(byExport.has(id)).toBe(false);
  // a worker's claim succeeded exactly for the trials the export did not take
  const byWorkers = new Set(claims.filter((c) => c !== null).map((c) => c?.id));
  for (const id of rest) expect(byExport.has(id) !== byWorkers.has(id), id).toBe(true);
  // later deliveries of an export-held trial's job are skipped
  for (const id of byExport) expect(await markRunning(sql, id, "w3")).toBeNull();
  expect(exported.every((t) => t.attempt === 1 && t.trainer === "torch")).toBe(true);
});

test("import records each trial's attempt once, with its metrics; refuses what the batch no longer holds", async () => {
  const { sweepId, ids } = await sweepWithTrials(4);
  const exported = await claimTrialsForExport(sql, sweepId, "imp", { limit: 3 });
  expect(exported).toHaveLength(3); // at most limit
  const other = ids.find((id) => !exported.some((t) => t.trialId === id)) as string;
  expect((await db.sweep.findUniqueOrThrow({ where: { id: sweepId } })).status).toBe("running");
  const [a, b, c] = exported.map((t) => t.trialId) as [string, string, string];
  const first = await importOfflineResults(sql, [
    succeeded(a, 1, 2.5),
    { trialId: b, attempt: 1, error: { class: "crash", message: "killed" } },
    { trialId: c, attempt: 1, result: { status: "diverged", reason: "loss 9 at step 3" } },
    succeeded(other, 1), // never exported: a worker's trial
  ]);
  expect(first.counts).toEqual({ recorded: 2, duplicate: 0, "not-held": 1, unfinished: 1, unknown: 0 });
  expect(first.sweepIds).toEqual([sweepId]);
  const t = await db.trial.findUniqueOrThrow({ where: { id: a }, include: { metrics: true } });
  expect(t).toMatchObject({ status: "succeeded", testLoss: 2.5, resultAttempt: 1, workerId: "export:imp" });
  expect(t.metrics.map((m) => [m.step, m.evalLoss])).toEqual([
    [1, null],
    [10, 2.5],
  ]);
  expect(await db.trial.findUniqueOrThrow({ where: { id: c } })).toMatchObject({
    status: "diverged",
    errorClass: "diverged",
    error: "loss 9 at step 3",
  });

  // the same file again: nothing changes
  const before = await db.trial.findMany({ where: { sweepId }, orderBy: { id: "asc" } });
  const again = await importOfflineResults(sql, [succeeded(a, 1, 9.9), succeeded(c, 1)]);
  expect(again.counts).toMatchObject({ recorded: 0, duplicate: 2 });
  expect(await db.trial.findMany({ where: { sweepId }, orderBy: { id: "asc" } })).toEqual(before);
  expect(await db.trialMetric.count({ where: { trialId: a } })).toBe(2);

  // the crashed trial stays held until released; then a worker runs it at the next attempt
  expect(await db.trial.findUniqueOrThrow({ where: { id: b } })).toMatchObject({ status: "running", attempts: 1 });
  const released = await releaseExport(sql, "imp");
  expect(released.map((r) => r.trialId)).toEqual([b]);
  expect(await releaseExport(sql, "imp")).toEqual([]);
  expect((await markRunning(sql, b, "w1"))?.attempt).toBe(2);
  const late = await importOfflineResults(sql, [succeeded(b, 1)]);
  expect(late.counts).toMatchObject({ recorded: 0, "not-held": 1 });
  expect(await db.trial.findUniqueOrThrow({ where: { id: b } })).toMatchObject({ status: "running", workerId: "w1" });
});

test("the last import completes the sweep; a cancelled sweep exports nothing; batch ids are checked", async () => {
  const { sweepId, ids } = await sweepWithTrials(2);
  const exported = await claimTrialsForExport(sql, sweepId, "done");
  expect(await claimTrialsForExport(sql, sweepId, "second")).toEqual([]); // nothing queued is left
  await importOfflineResults(sql, [succeeded(exported[0]?.trialId as string, 1)]);
  expect((await db.sweep.findUniqueOrThrow({ where: { id: sweepId } })).status).toBe("running");
  await importOfflineResults(sql, [succeeded(exported[1]?.trialId as string, 1)]);
  expect((await db.sweep.findUniqueOrThrow({ where: { id: sweepId } })).status).toBe("completed");
  expect(ids).toHaveLength(2);

  const cancelled = await sweepWithTrials(2);
  await db.sweep.update({ where: { id: cancelled.sweepId }, data: { status: "cancelled" } });
  expect(await claimTrialsForExport(sql, cancelled.sweepId, "c")).toEqual([]);
  await expect(claimTrialsForExport(sql, cancelled.sweepId, "../etc")).rejects.toThrow(/must match/);
});
