// Accepting a grid sweep is pipelined (trial rows inserted in chunks, on parallel connections, each
// chunk's jobs enqueued as soon as it commits) behind a `creating` status. These tests hold the
// guarantees: the stored configs are the expansion's, a sweep being accepted is never shown as
// accepted, a failure half-way leaves nothing, and an accept that dies is removed by the reconciler.
// The states in between are reached through the transport the API is given: its queue's addBulk
// is held (a slow or hung Redis) or fails (Redis gone) once a number of jobs went in.
import { claimBlocker, INSERT_CHUNK, markRunning, reconcile } from "@powersweep/orchestrator";
import { parseSweepDocument } from "@powersweep/spec";
import { expandSweep } from "@powersweep/sweep";
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import { lrGrid, startTestApi, type TestApi, tinyModel } from "./helpers.ts";

let api: TestApi;
let addBulk: TestApi["trialQueue"]["addBulk"];
beforeAll(async () => {
  api = await startTestApi("accept", { maxTrialsPerSweep: 10_000 });
  addBulk = api.trialQueue.addBulk.bind(api.trialQueue);
});
afterAll(() => api.close());
afterEach(() => {
  api.trialQueue.addBulk = addBulk;
});

/**
 * Runs `before(sweepId, enqueued)` ahead of each addBulk of the API's queue, with the number of
 * jobs that went in before it: it may wait (Redis is slow, or hangs) or throw (Redis is gone).
 */
function beforeEnqueue(before: (sweepId: string, enqueued: number) => Promise<void> | void) {
  let enqueued = 0;
  api.trialQueue.addBulk = async (jobs) => {
    await before(jobs[0]?.data.sweepId as string, enqueued);
    const added = await addBulk(jobs);
    enqueued += jobs.length;
    return added;
  };
}

const post = (payload: unknown) =>
  api.app.inject({
    method: "POST",
    url: "/v1/sweeps",
    headers: { ...api.auth(), "content-type": "application/json" },
    payload: JSON.stringify(payload),
  });
const get = (url: string) => api.app.inject({ method: "GET", url, headers: api.auth() });

/**
 * A sweep of several insert chunks: 2 models × 3 tokens × 4 batchSize × 5 lr × 25 seeds = 3000 trials.
 * Without shared trunks (`share: none`, this helper's default) every trial gets a job as it is accepted; with them,
 * only the 1000 trunk hosts do (their branches get theirs when a checkpoint exists).
 */
const big = (name: string, share: "trunks" | "none" = "none") =>
  lrGrid({
    name,
    share,
    axes: {
      models: [tinyModel("a", 32), tinyModel("b", 64)],
      tokens: [1e5, 2e5, 4e5],
      batchSize: [4, 8, 16, 32],
      lr: { logspace: { from: 1e-4, to: 1e-2, num: 5 } },
      seeds: { count: 25 },
    },
  });

async function jobsOf(sweepId: string) {
  const jobs = await api.trialQueue.getJobs(["waiting", "prioritized", "delayed", "active"]);
  return jobs.filter((j) => j.data.sweepId === sweepId).map((j) => j.id as string);
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

test("every trial is stored with the expansion's config, once, with exactly one job", async () => {
  for (const doc of [
    big("accept configs", "trunks"),
    {
      kind: "power-grid",
      name: "accept power configs",
      axes: {
        models: [tinyModel()],
        powerA: [2, 4, 8],
        powerB: { linspace: { from: -0.6, to: -0.4, num: 3 } },
        tokens: [1e5, 3e5],
        batchSize: [8, 16],
        seeds: [0, 1],
      },
      schedule: { etaMax: 0.02 },
      training: { seqLen: 32, optimizer: { weightDecay: 0.05 } },
    },
    // Rows travel to Postgres as text: names with tabs, newlines, quotes, backslashes and non-ASCII survive.
    lrGrid({
      name: "accept odd names",
      axes: {
        models: [tinyModel('tab\there "quoted"\nback\\slash', 32), tinyModel("ünï\r\\N", 64)],
        tokens: [1e5],
        batchSize: [8],
        lr: [1e-3, 2e-3],
      },
    }),
  ]) {
    const res = await post(doc);
    expect(res.statusCode, res.body).toBe(201);
    const { id, trialCount, status } = res.json();
    expect(status).toBe("queued");
    const parsed = parseSweepDocument(JSON.stringify(doc), "application/json");
    if (!parsed.ok || parsed.value.kind === "import") throw new Error("test document");
    const expected = new Map([...expandSweep(parsed.value)].map((t) => [t.key, t]));
    expect(trialCount).toBe(expected.size);
    const rows = await api.db.trial.findMany({ where: { sweepId: id } });
    expect(rows).toHaveLength(expected.size);
    for (const r of rows) {
      const e = expected.get(r.key);
      expect(r.config).toEqual(e?.config);
      expect([
        r.model,
        r.dModel,
        r.tokens,
        r.batchSize,
        r.lr,
        r.powerA,
        r.powerB,
        r.seed,
        r.branchFrom,
        r.branchStep,
        r.status,
      ]).toEqual([
        e?.model,
        e?.dModel,
        e?.tokens,
        e?.batchSize,
        e?.lr,
        e?.powerA,
        e?.powerB,
        e?.seed,
        e?.branchFrom ?? null,
        e?.branchStep ?? null,
        "queued",
      ]);
    }
    // A job for each trial that can run now; a branch waits for its trunk's checkpoint.
    const runnable = rows.filter((r) => r.branchFrom === null);
    if (doc.name === "accept configs") expect(runnable.length).toBe(1000);
    const jobs = await jobsOf(id);
    expect(jobs.length).toBe(runnable.length);
    expect(new Set(jobs)).toEqual(new Set(runnable.map((r) => r.id)));
  }
});

test("while it is accepted a sweep is `creating`: not accepted, not reconciled, not cancellable", async () => {
  const paused = deferred();
  const release = deferred();
  let sweepId = "";
  beforeEnqueue(async (id, enqueued) => {
    if (enqueued !== INSERT_CHUNK) return;
    sweepId = id;
    paused.resolve();
    await release.promise;
  });
  const pending = post(big("accept creating"));
  await paused.promise;
  const read = await get(`/v1/sweeps/${sweepId}`);
  expect(read.json()).toMatchObject({ status: "creating" });
  expect((await get("/v1/sweeps?status=creating")).json().items.map((s: { id: string }) => s.id)).toContain(sweepId);
  expect((await get("/v1/sweeps?status=queued")).json().items.map((s: { id: string }) => s.id)).not.toContain(sweepId);
  const cancel = await api.app.inject({ method: "POST", url: `/v1/sweeps/${sweepId}/cancel`, headers: api.auth() });
  expect(cancel.statusCode).toBe(409);
  // The reconciler neither re-enqueues its trials nor takes it for abandoned (its heartbeat is fresh).
  const r = await reconcile(api.db, api.trialQueue, { sweepIds: [sweepId] });
  expect(r).toMatchObject({ checked: 0, requeued: 0, abandoned: 0 });
  release.resolve();
  const res = await pending;
  expect(res.statusCode).toBe(201);
  expect(res.json()).toMatchObject({ id: sweepId, status: "queued", trialCount: 3000 });
  expect((await get(`/v1/sweeps/${sweepId}`)).json()).toMatchObject({ status: "queued", counts: { queued: 3000 } });
  expect(await jobsOf(sweepId)).toHaveLength(3000);
});

test("no worker claims a trial of a sweep while it is accepted; once accepted, it can", async () => {
  const doc = lrGrid({
    name: "accept invisible",
    axes: { models: [tinyModel("a", 32)], tokens: [1e5], batchSize: [4], lr: [1e-3, 2e-3, 4e-3] },
  });
  const seen: Array<string | null> = [];
  let trialId = "";
  beforeEnqueue(async (id) => {
    // a worker takes a trial of the first chunk (its row committed) before the accept's final commit
    const t = await api.db.trial.findFirstOrThrow({ where: { sweepId: id } });
    trialId = t.id;
    seen.push((await markRunning(api.db, t.id, "early-worker"))?.id ?? null);
    seen.push(await claimBlocker(api.db, t.id));
  });
  const res = await post(doc);
  expect(res.statusCode).toBe(201);
  expect(seen).toEqual([null, "wait"]);
  expect(res.json()).toMatchObject({ status: "queued", trialCount: 3 });
  expect((await markRunning(api.db, trialId, "worker"))?.attempt).toBe(1);
});

test("an accept that fails half-way removes its sweep and its trials; the jobs it added find nothing to run", async () => {
  let sweepId = "";
  beforeEnqueue((id, enqueued) => {
    sweepId = id;
    if (enqueued >= 2 * INSERT_CHUNK) throw new Error("Redis went away");
  });
  const res = await post(big("accept fails"));
  expect(res.statusCode).toBe(500);
  expect(res.headers["content-type"]).toContain("application/problem+json");
  expect(sweepId).not.toBe("");
  expect(await api.db.sweep.findUnique({ where: { id: sweepId } })).toBeNull();
  expect(await api.db.trial.count({ where: { sweepId } })).toBe(0);
  const [job] = await jobsOf(sweepId);
  expect(job).toBeDefined();
  expect(await markRunning(api.db, job as string, "worker")).toBeNull();
  expect(await claimBlocker(api.db, job as string)).toBe("skip");
  expect((await get(`/v1/sweeps/${sweepId}`)).statusCode).toBe(404);
});

test("an accept that dies (no heartbeat) is removed by the sweeper, never half-accepted, none of its trials run", async () => {
  const stalled = deferred();
  const never = deferred();
  let sweepId = "";
  beforeEnqueue(async (id, enqueued) => {
    if (enqueued !== INSERT_CHUNK) return;
    sweepId = id;
    stalled.resolve();
    await never.promise; // Redis hangs: the accept writes nothing more, its heartbeat stops
  });
  const pending = post(big("accept dies"));
  await stalled.promise;
  expect(await api.db.trial.count({ where: { sweepId } })).toBeGreaterThanOrEqual(INSERT_CHUNK);
  expect((await jobsOf(sweepId)).length).toBeGreaterThanOrEqual(INSERT_CHUNK);
  // Not stale yet under the default threshold; stale at 0 ms.
  expect((await reconcile(api.db, api.trialQueue, { sweepIds: [sweepId] })).abandoned).toBe(0);
  const r = await reconcile(api.db, api.trialQueue, { sweepIds: [sweepId], abandonedAfterMs: 0 });
  expect(r).toMatchObject({ abandoned: 1, requeued: 0 });
  expect(await api.db.sweep.findUnique({ where: { id: sweepId } })).toBeNull();
  expect(await api.db.trial.count({ where: { sweepId } })).toBe(0);
  // If that accept was only slow, it finds its sweep gone and fails rather than half-accepting it.
  never.resolve();
  const res = await pending;
  expect(res.statusCode).toBe(500);
  expect(await api.db.sweep.findUnique({ where: { id: sweepId } })).toBeNull();
  expect(await api.db.trial.count({ where: { sweepId } })).toBe(0);
});
