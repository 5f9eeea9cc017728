// Group-committed results (createTrialWriter / recordResults) keep the per-result guarantees:
// exactly one result per attempt, idempotent repeats, metrics written with the result; a result for
// an attempt that is not the running one changes nothing. Claims take only queued trials of accepted
// sweeps, with a lease the heartbeat renews. Claims and results in one statement (claimAndRecord,
// createTrialWriter) keep those of both.
import { createDb } from "@powersweep/db";
import pg from "pg";
import { afterAll, expect, test } from "vitest";
import { testConfig } from "../../../test/env.ts";
import {
  claimAndRecord,
  claimBlocker,
  createTrialWriter,
  markRunning,
  markRunningMany,
  recordResults,
  releaseTrial,
  renewLeases,
} from "../src/index.ts";

const db = createDb({ url: testConfig().databaseUrl, max: 2 });
const sql = new pg.Pool({ connectionString: testConfig().databaseUrl, max: 3 });
afterAll(async () => {
  await sql.end();
  await db.$disconnect();
});

/** Claims a trial, puts it back to queued and claims it again: it runs its second attempt. */
async function secondAttempt(id: string, workerId: string) {
  await markRunning(sql, id, workerId);
  await releaseTrial(sql, id, 1);
  await markRunning(sql, id, workerId);
}

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
  const writer = createTrialWriter({ claimDb: sql, resultDb: sql, workerId: "w1" });
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
  const trials = await db.trial.findMany({ where: { id: { in: ids } }, include: { metrics: true } });
  for (const t of trials) {
    const i = ids.indexOf(t.id);
    expect(t).toMatchObject({ status: "succeeded", resultAttempt: 1, trainLoss: 2 + i / 100, testLoss: 3 + i / 100 });
    expect(t.metrics.map((m) => m.trainLoss)).toEqual([5 + i]);
  }
});

test("one batch: a stale or unclaimed attempt is not recorded, the others are", async () => {
  const { sweepId, ids } = await sweepWithTrials(4);
  const [a, b, c, d] = ids as [string, string, string, string];
  for (const id of [a, b]) await markRunning(sql, id, "w1");
  await secondAttempt(c, "w1"); // c is at attempt 2 now
  const out = await recordResults(sql, [
    { trialId: a, attempt: 1, record: { status: "succeeded", trainLoss: 1 } },
    { trialId: b, attempt: 2, record: { status: "failed", error: "crash", errorClass: "crash" } }, // claim of attempt 2 lost
    { trialId: c, attempt: 1, record: { status: "succeeded", trainLoss: 1 } }, // stale attempt
    { trialId: d, attempt: 1, record: { status: "succeeded", trainLoss: 1 } }, // never claimed: queued at attempt 0
  ]);
  expect(out.map((o) => o.recorded)).toEqual([true, false, false, false]);
  const byId = new Map((await db.trial.findMany({ where: { sweepId } })).map((t) => [t.id, t]));
  expect(byId.get(a)).toMatchObject({ status: "succeeded", resultAttempt: 1 });
  expect(byId.get(b)).toMatchObject({ status: "running", resultAttempt: null, attempts: 1 });
  expect(byId.get(c)).toMatchObject({ status: "running", resultAttempt: null, attempts: 2 });
  expect(byId.get(d)).toMatchObject({ status: "queued", resultAttempt: null });
  // The sweep still has running trials: the result that was recorded says it may check completion
  // only because few trials are open.
  expect(out[0]?.checkSweep).toBe(true);
});

test("markRunningMany claims several trials in one statement, each exactly as markRunning would", async () => {
  const { sweepId, ids } = await sweepWithTrials(5);
  const [a, b, c, d, e] = ids as [string, string, string, string, string];
  await markRunning(sql, b, "w0", { checkpointPath: "/ck/b-first" }); // b: running on w0, its lease held
  await db.trial.update({ where: { id: c }, data: { status: "succeeded", resultAttempt: 0 } }); // c: finished
  const out = await markRunningMany(
    sql,
    [a, b, c, d].map((trialId) => ({ trialId, checkpointPath: `/ck/${trialId}` })),
    "w1",
    30,
  );
  expect(out.map((o) => o?.attempt ?? null)).toEqual([1, null, null, 1]);
  expect(out[0]).toMatchObject({ id: a, sweepId, trainer: "sleep", checkpointPath: `/ck/${a}` });
  const byId = new Map((await db.trial.findMany({ where: { sweepId } })).map((t) => [t.id, t]));
  expect(byId.get(a)).toMatchObject({ status: "running", workerId: "w1", attempts: 1 });
  // the claim holds a lease of the given length
  const leaseSeconds = ((byId.get(a)?.leaseUntil?.getTime() ?? 0) - Date.now()) / 1000;
  expect(leaseSeconds).toBeGreaterThan(20);
  expect(leaseSeconds).toBeLessThanOrEqual(30);
  expect(byId.get(b)).toMatchObject({ status: "running", workerId: "w0", attempts: 1, checkpointPath: "/ck/b-first" });
  expect(byId.get(c)).toMatchObject({ status: "succeeded", attempts: 0 });
  expect(byId.get(e)).toMatchObject({ status: "queued", attempts: 0 });
  expect((await db.sweep.findUniqueOrThrow({ where: { id: sweepId } })).status).toBe("running");
  // a trial may appear once per statement (two claims of one trial are two attempts, not one)
  await expect(markRunningMany(sql, [{ trialId: e }, { trialId: e }], "w1")).rejects.toThrow(/only once/);
  // a cancelled sweep's trials are not claimed, nor those of a sweep still being accepted
  await db.sweep.update({ where: { id: sweepId }, data: { status: "cancelled" } });
  expect(await markRunningMany(sql, [{ trialId: e }], "w1")).toEqual([null]);
  await db.sweep.update({ where: { id: sweepId }, data: { status: "creating" } });
  expect(await markRunning(sql, e, "w1")).toBeNull();
  expect(await claimBlocker(sql, e)).toBe("wait");
  await db.sweep.update({ where: { id: sweepId }, data: { status: "queued" } });
  expect((await markRunning(sql, e, "w1"))?.attempt).toBe(1);
  expect(await claimBlocker(sql, e)).toBe("skip");
});

test("the heartbeat renews the leases its worker holds; a cancelled or taken-back trial is left out", async () => {
  const { ids } = await sweepWithTrials(3);
  const [a, b, c] = ids as [string, string, string];
  for (const id of ids) await markRunning(sql, id, "w1", { leaseSeconds: 5 });
  await db.trial.update({ where: { id: b }, data: { status: "cancelled" } });
  await db.trial.update({ where: { id: c }, data: { workerId: "w2" } }); // taken back and claimed elsewhere
  const held = await renewLeases(sql, "w1", ids, 120);
  expect([...held]).toEqual([a]);
  const t = await db.trial.findUniqueOrThrow({ where: { id: a } });
  expect((t.leaseUntil?.getTime() ?? 0) - Date.now()).toBeGreaterThan(100_000);
});

/** A pool that counts the statements sent through it. */
function countingPool() {
  let statements = 0;
  return {
    get statements() {
      return statements;
    },
    query(q: { text: string; values?: unknown[]; name?: string }) {
      statements++;
      return sql.query(q) as Promise<{ rows: unknown[]; rowCount: number | null }>;
    },
  };
}

test("the claimer groups concurrent claims into fewer statements; a repeated claim gets nothing", async () => {
  const { ids } = await sweepWithTrials(8);
  const pool = countingPool();
  const claimer = createTrialWriter({ claimDb: pool, resultDb: pool, workerId: "w1" });
  const first = ids[0] as string;
  const out = await Promise.all([...ids, first].map((id) => claimer.claim(id, { checkpointPath: `/ck/${id}` })));
  expect(out.slice(0, 8).map((o) => o?.attempt)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
  // the repeat of the first trial went in a later statement and found it running: one attempt only
  expect(out[8]).toBeNull();
  expect(pool.statements).toBeLessThan(9);
  expect(pool.statements).toBeGreaterThanOrEqual(2);
  for (const t of await db.trial.findMany({ where: { id: { in: ids } } })) expect(t.attempts).toBe(1);
});

test("group commit: a row with bad data does not block the others (the batch is retried row by row)", async () => {
  const { ids } = await sweepWithTrials(3);
  const claimer = createTrialWriter({ claimDb: sql, resultDb: sql, workerId: "w1" });
  const out = await Promise.allSettled([...ids, "not-a-uuid"].map((id) => claimer.claim(id)));
  expect(out.slice(0, 3).map((o) => (o.status === "fulfilled" ? o.value?.attempt : o.reason))).toEqual([1, 1, 1]);
  expect(out[3]?.status).toBe("rejected");
});

test("the result writer never puts two results of one trial in one statement", async () => {
  const { ids } = await sweepWithTrials(3);
  for (const id of ids) await markRunning(sql, id, "w1");
  const writer = createTrialWriter({ claimDb: sql, resultDb: sql, workerId: "w1" });
  const [a] = ids as [string];
  const rec = { status: "succeeded" as const, trainLoss: 1 };
  const out = await Promise.all([...ids, a].map((id) => writer.record(id, 1, rec)));
  expect(out.map((o) => o.recorded)).toEqual([true, true, true, false]);
});

test("claim and result statements reach trials by primary key, whatever the statistics say", async () => {
  // 2,000 trials, 1,000 of them running, and no ANALYZE since: with the earlier statements the
  // planner hashed every running (and queued) trial on each result write.
  const { ids } = await sweepWithTrials(2000);
  const running = ids.slice(0, 1000);
  await sql.query({
    text: `UPDATE "Trial" SET status = 'running', attempts = 1 WHERE id = ANY($1::uuid[])`,
    values: [running],
  });
  const client = await sql.connect();
  try {
    await client.query("SET plan_cache_mode = force_generic_plan");
    const rowsRead = async (f: () => Promise<unknown>) => {
      await client.query("SELECT pg_stat_clear_snapshot()");
      const before = await client.query(
        `SELECT COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0) AS n FROM pg_stat_xact_user_tables WHERE relname = 'Trial'`,
      );
      await f();
      const after = await client.query(
        `SELECT COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0) AS n FROM pg_stat_xact_user_tables WHERE relname = 'Trial'`,
      );
      return Number(after.rows[0]?.n ?? 0) - Number(before.rows[0]?.n ?? 0);
    };
    const one = { query: (q: { text: string; values?: unknown[]; name?: string }) => client.query(q) };
    await client.query("BEGIN");
    const claimRead = await rowsRead(() =>
      markRunningMany(
        one,
        ids.slice(1000, 1004).map((trialId) => ({ trialId })),
        "w1",
      ),
    );
    const resultRead = await rowsRead(() =>
      recordResults(
        one,
        running.slice(0, 4).map((trialId) => ({ trialId, attempt: 1, record: { status: "succeeded" as const } })),
      ),
    );
    // and one at a time (the single-row statements)
    const claimOneRead = await rowsRead(() => markRunningMany(one, [{ trialId: ids[1004] as string }], "w1"));
    const resultOneRead = await rowsRead(() =>
      recordResults(one, [{ trialId: running[4] as string, attempt: 1, record: { status: "succeeded" as const } }]),
    );
    const bothRead = await rowsRead(() =>
      claimAndRecord(
        one,
        "w1",
        [{ trialId: ids[1005] as string }],
        [{ trialId: running[5] as string, attempt: 1, record: { status: "succeeded" as const } }],
      ),
    );
    await client.query("ROLLBACK");
    expect(claimRead).toBeLessThan(50);
    expect(bothRead).toBeLessThan(400);
    expect(claimOneRead).toBeLessThan(50);
    // 4 updated rows, up to 257 for the busy-sweep count, a few lookups: far below 1,000 running trials
    expect(resultRead).toBeLessThan(400);
    expect(resultOneRead).toBeLessThan(400);
  } finally {
    client.release();
  }
});

test("one result alone (single-row statement): recorded once, other attempts not, metrics kept", async () => {
  const { ids } = await sweepWithTrials(3);
  const [a, b, c] = ids as [string, string, string];
  for (const id of [a, b]) await markRunning(sql, id, "w1");
  await secondAttempt(c, "w1"); // c at attempt 2
  const rec = {
    status: "succeeded" as const,
    trainLoss: 1,
    metrics: [{ step: 3, tokens: 48, lr: 1e-3, trainLoss: 4 }],
  };
  expect((await recordResults(sql, [{ trialId: a, attempt: 1, record: rec }]))[0]).toMatchObject({ recorded: true });
  expect((await recordResults(sql, [{ trialId: a, attempt: 1, record: rec }]))[0]).toMatchObject({ recorded: false });
  expect((await recordResults(sql, [{ trialId: b, attempt: 2, record: rec }]))[0]).toMatchObject({ recorded: false });
  expect((await recordResults(sql, [{ trialId: c, attempt: 1, record: rec }]))[0]).toMatchObject({ recorded: false });
  const t = await db.trial.findUniqueOrThrow({ where: { id: a }, include: { metrics: true } });
  expect(t).toMatchObject({ status: "succeeded", resultAttempt: 1, trainLoss: 1 });
  expect(t.metrics.map((m) => m.step)).toEqual([3]);
});

test("claimAndRecord: claims and results in one statement, each exactly as on its own", async () => {
  const { sweepId, ids } = await sweepWithTrials(6);
  const [a, b, c, d, e, f] = ids as [string, string, string, string, string, string];
  for (const id of [a, b]) await markRunning(sql, id, "w0");
  await secondAttempt(c, "w0"); // c is at attempt 2 now
  await db.trial.update({ where: { id: f }, data: { status: "succeeded", resultAttempt: 0 } }); // f: finished
  const rec = {
    status: "succeeded" as const,
    trainLoss: 1,
    metrics: [{ step: 2, tokens: 32, lr: 1e-3, trainLoss: 4 }],
  };
  const out = await claimAndRecord(
    sql,
    "w1",
    [d, e, f].map((trialId) => ({ trialId, checkpointPath: `/ck/${trialId}` })),
    [
      { trialId: a, attempt: 1, record: rec },
      { trialId: b, attempt: 2, record: rec }, // attempt 2 never claimed
      { trialId: c, attempt: 1, record: rec }, // stale attempt
    ],
  );
  expect(out.claimed.map((x) => x?.attempt ?? null)).toEqual([1, 1, null]);
  expect(out.claimed[0]).toMatchObject({ id: d, sweepId, trainer: "sleep", checkpointPath: `/ck/${d}` });
  expect(out.recorded.map((o) => o.recorded)).toEqual([true, false, false]);
  const byId = new Map(
    (await db.trial.findMany({ where: { sweepId }, include: { metrics: true } })).map((t) => [t.id, t]),
  );
  expect(byId.get(a)).toMatchObject({ status: "succeeded", resultAttempt: 1, trainLoss: 1 });
  expect(byId.get(a)?.metrics.map((m) => m.step)).toEqual([2]);
  expect(byId.get(b)).toMatchObject({ status: "running", resultAttempt: null, attempts: 1 });
  expect(byId.get(d)).toMatchObject({ status: "running", workerId: "w1", attempts: 1 });
  expect(byId.get(f)).toMatchObject({ status: "succeeded", attempts: 0 });
  // the same result again changes nothing, nor a claim of a running trial; a trial may not be
  // claimed and recorded in one statement
  const again = await claimAndRecord(sql, "w1", [{ trialId: e }], [{ trialId: a, attempt: 1, record: rec }]);
  expect(again.claimed[0]).toBeNull();
  expect(again.recorded[0]).toMatchObject({ recorded: false });
  await expect(claimAndRecord(sql, "w1", [{ trialId: a }], [{ trialId: a, attempt: 1, record: rec }])).rejects.toThrow(
    /only once/,
  );
});

test("the trial writer sends a result and a claim that are ready together in one statement", async () => {
  const { ids } = await sweepWithTrials(4);
  const [a, b, c, d] = ids as [string, string, string, string];
  const claims = countingPool();
  const results = countingPool();
  const writer = createTrialWriter({ claimDb: claims, resultDb: results, workerId: "w1" });
  // a claim alone goes to the claim pool
  expect((await writer.claim(a, { checkpointPath: `/ck/${a}` }))?.attempt).toBe(1);
  expect([claims.statements, results.statements]).toEqual([1, 0]);
  // a's result and b's claim, submitted in one turn (b takes the slot a's trainer just freed): one statement
  const [recorded, claimed] = await Promise.all([
    writer.record(a, 1, { status: "succeeded", trainLoss: 1 }),
    writer.claim(b),
  ]);
  expect(recorded).toMatchObject({ recorded: true });
  expect(claimed).toMatchObject({ id: b, attempt: 1 });
  expect([claims.statements, results.statements]).toEqual([1, 1]);
  // a result alone goes to the result pool; a repeated trial waits for a later statement
  expect(await writer.record(b, 1, { status: "succeeded", trainLoss: 1 })).toMatchObject({ recorded: true });
  expect([claims.statements, results.statements]).toEqual([1, 2]);
  const [c1, c2, r] = await Promise.all([
    writer.claim(c),
    writer.claim(c),
    writer.record(d, 1, { status: "succeeded" }),
  ]);
  expect([c1?.attempt, c2?.attempt ?? null]).toEqual([1, null]);
  expect(r).toMatchObject({ recorded: false }); // d was never claimed
  const byId = new Map((await db.trial.findMany({ where: { id: { in: ids } } })).map((t) => [t.id, t]));
  expect(byId.get(a)).toMatchObject({ status: "succeeded", resultAttempt: 1 });
  expect(byId.get(b)).toMatchObject({ status: "succeeded", resultAttempt: 1 });
  expect(byId.get(c)).toMatchObject({ status: "running", attempts: 1 });
});
