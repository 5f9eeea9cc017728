// Sweep lifecycle through the HTTP API on real Postgres and Redis: create, dry run, cap, import,
// read, cancel, retry, extend, reconcile.
import { reconcile } from "@powersweep/orchestrator";
import { createRedis, createTrialQueue } from "@powersweep/queue";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { buildServer } from "../src/index.ts";
import { lrGrid, startTestApi, type TestApi, tinyModel } from "./helpers.ts";

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi("sweeps", { maxTrialsPerSweep: 1000 });
});
afterAll(() => api.close());

async function post(url: string, payload?: unknown, token?: string) {
  return api.app.inject({
    method: "POST",
    url,
    headers: { ...api.auth(token), ...(payload !== undefined ? { "content-type": "application/json" } : {}) },
    ...(payload !== undefined ? { payload: JSON.stringify(payload) } : {}),
  });
}
const get = (url: string, token?: string) => api.app.inject({ method: "GET", url, headers: api.auth(token) });

async function jobIds() {
  const jobs = await api.trialQueue.getJobs(["waiting", "prioritized", "delayed", "active"]);
  return new Set(jobs.map((j) => j.id));
}

describe("create", () => {
  test("writes every trial once, queues one job per trial (job id = trial id)", async () => {
    const res = await post(
      "/v1/sweeps",
      lrGrid({ name: "create", tags: ["create"], axes: { ...lrGrid().axes, lr: [1e-3, 3e-3, 1e-2, 3e-3] } }),
    );
    expect(res.statusCode).toBe(201);
    const body = res.json();
    // 1 model × 2 tokens × 2 batchSize × 3 distinct lr (one repeated) × 1 seed
    expect(body.trialCount).toBe(12);
    const trials = await api.db.trial.findMany({ where: { sweepId: body.id } });
    expect(trials).toHaveLength(12);
    expect(new Set(trials.map((t) => t.key)).size).toBe(12);
    // Shared trunks (the default): each (β, lr) trial at the larger T hosts the trunk and has a job;
    // the one at the smaller T branches from it and gets its job when the checkpoint exists.
    const jobs = await jobIds();
    for (const t of trials) {
      const host = trials.find((h) => h.key === t.branchFrom);
      if (t.tokens === 2e5) expect([t.branchFrom, jobs.has(t.id)]).toEqual([null, true]);
      else expect([host?.tokens, host?.lr, host?.batchSize, jobs.has(t.id)]).toEqual([2e5, t.lr, t.batchSize, false]);
    }
    const one = trials.find((t) => t.lr === 1e-2 && t.tokens === 2e5 && t.batchSize === 16);
    expect(one?.config).toMatchObject({ tokens: 2e5, batchSize: 16, schedule: { type: "wsd", lr: 1e-2 } });

    const read = await get(`/v1/sweeps/${body.id}`, api.tokens.read);
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({
      id: body.id,
      kind: "lr-grid",
      status: "queued",
      trialCount: 12,
      counts: { queued: 12, running: 0 },
    });
    expect(read.json().spec.axes.lr).toEqual([1e-3, 3e-3, 1e-2, 3e-3]);

    const filtered = await get(`/v1/sweeps/${body.id}/trials?lr=0.01&batchSize=16`);
    expect(filtered.json().total).toBe(2);
    expect(
      filtered.json().items.every((t: { lr: number; batchSize: number }) => t.lr === 0.01 && t.batchSize === 16),
    ).toBe(true);
    const page = await get(`/v1/sweeps/${body.id}/trials?limit=5&offset=10`);
    expect(page.json().items).toHaveLength(2);

    const list = await get("/v1/sweeps?tag=create");
    expect(list.json().items.map((s: { id: string }) => s.id)).toEqual([body.id]);
    expect(list.json().items[0].counts.queued).toBe(12);
    expect((await get("/v1/sweeps?tag=create&status=completed")).json().items).toHaveLength(0);
  });

  test("dry run answers the count and first trials and writes nothing", async () => {
    const before = await api.db.sweep.count();
    const jobsBefore = (await jobIds()).size;
    const res = await post("/v1/sweeps?dryRun=true", lrGrid({ axes: { ...lrGrid().axes, seeds: { count: 3 } } }));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: null, dryRun: true, trialCount: 36 });
    expect(res.json().trials.length).toBe(20);
    expect(res.json().trials[0].config.model.name).toBe("d32");
    expect(await api.db.sweep.count({ where: { owner: api.owner, name: "lr grid", trialCount: 36 } })).toBe(0);
    expect(await api.db.sweep.count()).toBeGreaterThanOrEqual(before);
    expect((await jobIds()).size).toBe(jobsBefore);
  });

  test("a sweep past the cap is refused with 422 naming the product, before anything is written", async () => {
    const doc = lrGrid({
      name: "too big",
      axes: { ...lrGrid().axes, lr: { logspace: { from: 1e-4, to: 1e-1, num: 12 } }, seeds: { count: 30 } },
    });
    const res = await post("/v1/sweeps", doc);
    expect(res.statusCode).toBe(422);
    expect(res.headers["content-type"]).toMatch(/problem\+json/);
    expect(res.json().detail).toContain(
      "1 models × 2 tokens × 2 batchSize × 12 lr × 30 seeds = 1440 trials > cap of 1000",
    );
    expect(await api.db.sweep.count({ where: { name: "too big" } })).toBe(0);
  });

  test("an import stores its rows as succeeded trials and queues nothing", async () => {
    const jobsBefore = (await jobIds()).size;
    const res = await post("/v1/sweeps", {
      kind: "import",
      name: "imported",
      rows: [
        { model: "m1", tokens: 1e6, batchSize: 32, lr: 1e-3, testLoss: 2.5, trainLoss: 2.4, dModel: 64 },
        { model: "m1", tokens: 1e6, batchSize: 32, lr: 2e-3, testPerplexity: 10, seed: 1 },
      ],
    });
    expect(res.statusCode).toBe(201);
    const trials = await api.db.trial.findMany({ where: { sweepId: res.json().id }, orderBy: { lr: "asc" } });
    expect(trials.map((t) => [t.status, t.lr, t.testLoss, t.dModel])).toEqual([
      ["succeeded", 1e-3, 2.5, 64],
      ["succeeded", 2e-3, Math.log(10), null],
    ]);
    expect(trials[0]?.finishedAt).not.toBeNull();
    expect((await get(`/v1/sweeps/${res.json().id}`)).json().status).toBe("completed");
    expect((await jobIds()).size).toBe(jobsBefore);
  });

  test("an import also arrives as CSV", async () => {
    const csv = "model,tokens,batchSize,powerA,powerB,testLoss\nd64,2e6,16,4,-0.5,3.1\nd64,4e6,16,4,-0.5,2.9\n";
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/sweeps?name=csv-import",
      headers: { ...api.auth(), "content-type": "text/csv" },
      payload: csv,
    });
    expect(res.statusCode).toBe(201);
    const trials = await api.db.trial.findMany({ where: { sweepId: res.json().id }, orderBy: { tokens: "asc" } });
    expect(trials.map((t) => [t.tokens, t.powerA, t.powerB, t.testLoss])).toEqual([
      [2e6, 4, -0.5, 3.1],
      [4e6, 4, -0.5, 2.9],
    ]);
    expect((await api.db.sweep.findUnique({ where: { id: res.json().id } }))?.name).toBe("csv-import");
  });

  test("a YAML power-grid document is accepted", async () => {
    const yaml = `kind: power-grid
name: power yaml
axes:
  models:
    - {name: d32, dModel: 32, nLayers: 2, nHeads: 2, dHead: 16, mlpHidden: 128, baseWidth: 32}
  powerA: [2, 4]
  powerB: {linspace: {from: -0.6, to: -0.4, num: 2}}
  tokens: {geometric: {from: 1e5, factor: 2, count: 2}}
  batchSize: [8]
schedule: {etaMax: 0.02}
`;
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/sweeps",
      headers: { ...api.auth(), "content-type": "application/yaml" },
      payload: yaml,
    });
    expect(res.statusCode).toBe(201);
    expect(res.json().trialCount).toBe(8);
    const t = await api.db.trial.findFirst({ where: { sweepId: res.json().id, powerA: 4, powerB: -0.4, tokens: 2e5 } });
    expect(t?.config).toMatchObject({
      schedule: { type: "power", powerA: 4, powerB: -0.4, etaMax: 0.02, decayFraction: 0.1 },
    });
  });
});

test("GET /sweeps/:id reports counts per status, remaining tokens, speed and times", async () => {
  const { id } = (await post("/v1/sweeps", lrGrid({ name: "read one" }))).json();
  const trials = await api.db.trial.findMany({ where: { sweepId: id }, orderBy: { id: "asc" } });
  const [a, b, c, d] = trials;
  await api.db.trial.updateMany({ where: { id: { in: [a?.id ?? "", b?.id ?? ""] } }, data: { status: "running" } });
  await api.db.trial.update({ where: { id: c?.id ?? "" }, data: { status: "succeeded", tokensPerSecond: 1000 } });
  await api.db.trial.update({ where: { id: d?.id ?? "" }, data: { status: "succeeded", tokensPerSecond: 3000 } });
  const res = await get(`/v1/sweeps/${id}`);
  expect(res.statusCode).toBe(200);
  const body = res.json();
  // A branch trains only its decay: T less its shared steps (batchSize × seqLen tokens each).
  const trained = (t: (typeof trials)[number]) =>
    t.tokens - (t.branchStep ?? 0) * t.batchSize * (t.config as { seqLen: number }).seqLen;
  const remaining = trials
    .slice(0, 2)
    .concat(trials.slice(4))
    .reduce((sum, t) => sum + trained(t), 0);
  expect(trials.some((t) => t.branchStep)).toBe(true);
  const row = await api.db.sweep.findUniqueOrThrow({ where: { id } });
  expect(body).toMatchObject({
    id,
    kind: "lr-grid",
    counts: { queued: 8, running: 2, succeeded: 2, failed: 0, diverged: 0, cancelled: 0 },
    remainingTokens: remaining,
    trainingTokens: {
      planned: trials.reduce((sum, t) => sum + trained(t), 0),
      fromScratch: trials.reduce((sum, t) => sum + t.tokens, 0),
    },
    // mean speed of a succeeded trial × trials running
    tokensPerSecond: 2000 * 2,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    finishedAt: null,
    owner: api.owner,
    tags: [],
    trainer: "tfjs",
    priority: 0,
    maxAttempts: 3,
  });
  expect((await get("/v1/sweeps/00000000-0000-4000-8000-000000000000")).statusCode).toBe(404);
});

test("GET /trials/:id returns the config and loss curve", async () => {
  const { id } = (await post("/v1/sweeps", lrGrid({ name: "curve" }))).json();
  const trial = await api.db.trial.findFirstOrThrow({ where: { sweepId: id } });
  await api.db.trialMetric.createMany({
    data: [
      { trialId: trial.id, attempt: 1, step: 20, tokens: 20480, lr: 1e-3, trainLoss: 3.2 },
      { trialId: trial.id, attempt: 1, step: 10, tokens: 10240, lr: 1e-3, trainLoss: 4.1, evalLoss: 4.2 },
    ],
  });
  const res = await get(`/v1/trials/${trial.id}`);
  expect(res.statusCode).toBe(200);
  expect(res.json().config.model.name).toBe("d32");
  expect(res.json().metrics.map((m: { step: number; trainLoss: number }) => [m.step, m.trainLoss])).toEqual([
    [10, 4.1],
    [20, 3.2],
  ]);
  expect((await get("/v1/trials/00000000-0000-4000-8000-000000000000")).statusCode).toBe(404);
  expect((await get("/v1/trials/not-a-uuid")).statusCode).toBe(400);
});

test("cancel marks queued and running trials cancelled at once; the queued trials' jobs go after the answer", async () => {
  const { id } = (await post("/v1/sweeps", lrGrid({ name: "cancel" }))).json();
  const running = await api.db.trial.findFirstOrThrow({ where: { sweepId: id } });
  await api.db.trial.update({ where: { id: running.id }, data: { status: "running" } });
  const res = await post(`/v1/sweeps/${id}/cancel`);
  expect(res.statusCode).toBe(200);
  expect(res.json()).toMatchObject({ status: "cancelled", cancelled: 12, signalled: 1 });
  // the running trial is cancelled in the same statement: its worker sees it at its next heartbeat
  expect((await api.db.trial.findUniqueOrThrow({ where: { id: running.id } })).status).toBe("cancelled");
  await expect
    .poll(async () => (await api.db.trial.findMany({ where: { sweepId: id } })).map((t) => t.status))
    .toEqual(Array(12).fill("cancelled"));
  await expect
    .poll(async () => {
      const jobs = await jobIds();
      return (await api.db.trial.findMany({ where: { sweepId: id } })).filter((t) => jobs.has(t.id)).length;
    })
    .toBe(0);
  expect((await get(`/v1/sweeps/${id}`)).json().status).toBe("cancelled");
});

test("cancel of an extended sweep with finished trials counts exactly the queued and running ones it cancelled", async () => {
  const { id } = (await post("/v1/sweeps", lrGrid({ name: "cancel counts" }))).json();
  const extended = await post(`/v1/sweeps/${id}/extend`, { lr: [1e-2, 3e-2] });
  expect(extended.statusCode).toBe(200);
  const trials = await api.db.trial.findMany({ where: { sweepId: id }, orderBy: { id: "asc" } });
  const [a, b, c, d] = trials.map((t) => t.id);
  await api.db.trial.updateMany({ where: { id: { in: [a!, b!] } }, data: { status: "succeeded" } });
  await api.db.trial.update({ where: { id: c! }, data: { status: "failed" } });
  await api.db.trial.update({ where: { id: d! }, data: { status: "running" } });
  const res = await post(`/v1/sweeps/${id}/cancel`);
  expect(res.statusCode).toBe(200);
  expect(res.json()).toMatchObject({ cancelled: trials.length - 3, signalled: 1 });
  await expect
    .poll(async () => api.db.trial.count({ where: { sweepId: id, status: "cancelled" } }))
    .toBe(trials.length - 3);
});

test("resume queues a cancelled sweep's cancelled and failed trials again, each with a job", async () => {
  const { id } = (await post("/v1/sweeps", lrGrid({ name: "resume" }))).json();
  expect((await post(`/v1/sweeps/${id}/resume`)).statusCode).toBe(409); // not cancelled
  const [done] = await api.db.trial.findMany({ where: { sweepId: id }, take: 1 });
  if (!done) throw new Error("no trial");
  await api.db.trial.update({ where: { id: done.id }, data: { status: "succeeded", resultAttempt: 1 } });
  await post(`/v1/sweeps/${id}/cancel`);
  await expect.poll(async () => api.db.trial.count({ where: { sweepId: id, status: "cancelled" } })).toBe(11);
  const res = await post(`/v1/sweeps/${id}/resume`);
  expect(res.statusCode).toBe(200);
  expect(res.json()).toEqual({ id, resumed: 11 });
  const trials = await api.db.trial.findMany({ where: { sweepId: id } });
  expect(trials.filter((t) => t.status === "queued")).toHaveLength(11);
  expect(trials.find((t) => t.id === done.id)?.status).toBe("succeeded");
  const jobs = await jobIds();
  for (const t of trials) if (t.status === "queued") expect(jobs.has(t.id)).toBe(true);
  expect((await get(`/v1/sweeps/${id}`)).json().status).toBe("queued");
});

test("the same POST twice with one Idempotency-Key creates one sweep", async () => {
  const body = lrGrid({ name: "idem" });
  const key = `idem-${Math.random().toString(36).slice(2)}`;
  const send = () =>
    api.app.inject({
      method: "POST",
      url: "/v1/sweeps",
      headers: { ...api.auth(), "content-type": "application/json", "idempotency-key": key },
      payload: JSON.stringify(body),
    });
  const first = await send();
  const second = await send();
  expect(first.statusCode).toBe(201);
  expect(second.statusCode).toBe(200);
  expect(second.json()).toMatchObject({ id: first.json().id, trialCount: 12, status: first.json().status });
  expect(await api.db.sweep.count({ where: { name: "idem" } })).toBe(1);
  // without the key, the same document is a new sweep
  expect((await post("/v1/sweeps", body)).statusCode).toBe(201);
  expect(await api.db.sweep.count({ where: { name: "idem" } })).toBe(2);
});

test("retry queues crashed trials again as new jobs; other failures stay", async () => {
  const { id } = (await post("/v1/sweeps", lrGrid({ name: "retry" }))).json();
  const [a, b, c] = await api.db.trial.findMany({ where: { sweepId: id }, take: 3, orderBy: { id: "asc" } });
  if (!a || !b || !c) throw new Error("trials missing");
  await api.db.trial.updateMany({
    where: { id: { in: [a.id, b.id] } },
    data: { status: "failed", errorClass: "crash", error: "boom" },
  });
  await api.db.trial.update({ where: { id: c.id }, data: { status: "failed", errorClass: "invalid_config" } });
  const oldTimestamp = (await api.trialQueue.getJob(a.id))?.timestamp ?? 0;
  // their jobs ran and finished (as a failed job stays in Redis for a while)
  for (const t of [a, b]) await api.redis.hset(api.trialQueue.toKey(t.id), "finishedOn", Date.now());
  await new Promise((r) => setTimeout(r, 5));
  const res = await post(`/v1/sweeps/${id}/retry`);
  expect(res.json()).toEqual({ id, retried: 2 });
  const after = await api.db.trial.findMany({ where: { id: { in: [a.id, b.id, c.id] } } });
  expect(after.find((t) => t.id === a.id)).toMatchObject({ status: "queued", error: null, errorClass: null });
  expect(after.find((t) => t.id === c.id)?.status).toBe("failed");
  const job = await api.trialQueue.getJob(a.id);
  expect(job?.timestamp).toBeGreaterThan(oldTimestamp);
  expect((await post(`/v1/sweeps/${id}/retry`)).json().retried).toBe(0);
});

test("extend adds only new trials; a dry run and a repeated extend add nothing", async () => {
  const { id } = (await post("/v1/sweeps", lrGrid({ name: "extend" }))).json();
  const dry = await post(`/v1/sweeps/${id}/extend?dryRun=true`, { lr: [1e-2, 3e-2], models: [tinyModel("d64", 64)] });
  expect(dry.json()).toMatchObject({ dryRun: true, added: 2 * 2 * 2 * 4 - 12 });
  expect(await api.db.trial.count({ where: { sweepId: id } })).toBe(12);
  const res = await post(`/v1/sweeps/${id}/extend`, { lr: [1e-2, 3e-2], models: [tinyModel("d64", 64)] });
  expect(res.json()).toMatchObject({ added: 20, trialCount: 32 });
  const trials = await api.db.trial.findMany({ where: { sweepId: id } });
  expect(trials).toHaveLength(32);
  // Every new trial that can run has a job; a new branch (smaller T) waits for its trunk's checkpoint.
  const jobs = await jobIds();
  for (const t of trials) expect(jobs.has(t.id)).toBe(t.branchFrom === null);
  expect(trials.filter((t) => t.branchFrom === null)).toHaveLength(16);
  expect((await post(`/v1/sweeps/${id}/extend`, { lr: [3e-2] })).json().added).toBe(0);
  expect((await get(`/v1/sweeps/${id}`)).json().trialCount).toBe(32);
  const bad = await post(`/v1/sweeps/${id}/extend`, { powerA: [2] });
  expect(bad.statusCode).toBe(400);
  expect(bad.json().errors[0].path).toBe("/powerA");
});

test("the reconciler restores jobs whose Redis keys were deleted and completes finished sweeps", async () => {
  const { id } = (await post("/v1/sweeps", lrGrid({ name: "reconcile" }))).json();
  // The trials that can run: a branch waiting for its trunk's checkpoint has no job to restore.
  const trials = await api.db.trial.findMany({ where: { sweepId: id, branchFrom: null } });
  expect(trials).toHaveLength(6);
  // Redis loses everything under this queue (e.g. a flush): job hashes and lists.
  const keys = await api.redis.keys(`${api.config.redisPrefix}:trials:*`);
  await api.redis.del(...keys);
  expect(await api.trialQueue.getJob(trials[0]?.id ?? "")).toBeUndefined();
  const first = await reconcile(api.db, api.trialQueue, { sweepIds: [id] });
  expect(first.requeued).toBe(6);
  for (const t of trials) expect((await api.trialQueue.getJob(t.id))?.data).toEqual({ trialId: t.id, sweepId: id });
  // Running it again adds no second job for any trial.
  await reconcile(api.db, api.trialQueue, { sweepIds: [id] });
  const waiting = (await api.trialQueue.getJobs(["waiting", "prioritized"])).filter((j) => j.data.sweepId === id);
  expect(waiting.map((j) => j.id).sort()).toEqual(trials.map((t) => t.id).sort());
  // Hosts that ended without their branches' checkpoints release them: jobs, from scratch.
  await api.db.trial.updateMany({ where: { id: { in: trials.map((t) => t.id) } }, data: { status: "succeeded" } });
  expect((await reconcile(api.db, api.trialQueue, { sweepIds: [id] })).releasedBranches).toBe(6);
  const released = await api.db.trial.findMany({ where: { sweepId: id, status: "queued" } });
  expect(released.map((t) => t.branchFrom)).toEqual(Array(6).fill(null));
  for (const t of released) expect(await api.trialQueue.getJob(t.id)).toBeDefined();
  await api.db.trial.updateMany({ where: { sweepId: id }, data: { status: "succeeded" } });
  await reconcile(api.db, api.trialQueue, { sweepIds: [id] });
  expect((await get(`/v1/sweeps/${id}`)).json().status).toBe("completed");
});

describe("auth", () => {
  test("no token 401, unknown token 401, read token on a write route 403, admin does everything", async () => {
    const none = await api.app.inject({ method: "GET", url: "/v1/sweeps" });
    expect(none.statusCode).toBe(401);
    expect(none.headers["content-type"]).toMatch(/problem\+json/);
    expect((await get("/v1/sweeps", "ps_nope")).statusCode).toBe(401);
    expect((await get("/v1/sweeps", api.tokens.read)).statusCode).toBe(200);
    const forbidden = await post("/v1/sweeps", lrGrid({ name: "read-only" }), api.tokens.read);
    expect(forbidden.statusCode).toBe(403);
    expect(await api.db.sweep.count({ where: { name: "read-only" } })).toBe(0);
    expect((await post("/v1/sweeps?dryRun=true", lrGrid(), api.tokens.admin)).statusCode).toBe(200);
  });

  test("health, readiness and metrics need no token", async () => {
    expect((await api.app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    const ready = await api.app.inject({ method: "GET", url: "/readyz" });
    expect(ready.json()).toEqual({ status: "ready", postgres: "ok", redis: "ok" });
    const metrics = await api.app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toMatch(/powersweep_queue_jobs\{queue="trials",state="waiting"\} \d+/);
    expect(metrics.body).toMatch(/powersweep_trials\{status="queued"\} \d+/);
    expect(metrics.body).toContain("powersweep_http_request_duration_seconds_bucket");
    expect((await api.app.inject({ method: "GET", url: "/docs/json" })).json().paths).toHaveProperty("/v1/sweeps");
  });
});

test("readyz answers 503 when Redis does not answer", async () => {
  const deadRedis = createRedis({ url: "redis://127.0.0.1:1" });
  deadRedis.on("error", () => {});
  const queue = createTrialQueue(deadRedis, api.config.redisPrefix);
  queue.on("error", () => {});
  const app = buildServer({ db: api.db, redis: deadRedis, trialQueue: queue, config: api.config, auth: true });
  try {
    const res = await app.inject({ method: "GET", url: "/readyz" });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: "unavailable", postgres: "ok" });
    expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
  } finally {
    await app.close();
    deadRedis.disconnect();
  }
});
