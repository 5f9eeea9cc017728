// Service outages and cancel: Redis keys deleted mid-sweep (reconcile re-enqueues; a job left
// without its hash still runs its trial), the Postgres
// connection cut for 3 s (result writes retried, nothing lost), and a sweep cancelled while its
// trials run (they stop within 5 s).
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { cancelSweep, reconcile } from "@powersweep/orchestrator";
import { afterEach, describe, expect, it } from "vitest";
import { emptyRedis, type Fleet, startFleet, sweepDone, tinyConfig, waitFor } from "./fleet.ts";

const ENV = { POWERSWEEP_SLEEP_MS_PER_TOKEN: "1", CHECKPOINT_EVERY_TOKENS: "200" };

let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.close();
  fleet = undefined;
});

/** A loopback TCP proxy to Postgres that can refuse and drop connections for a while. */
async function pgProxy(target = { host: "127.0.0.1", port: 5432 }) {
  const sockets = new Set<Socket>();
  let server: Server;
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = createConnection(target);
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on("error", drop).on("close", drop);
        upstream.on("error", drop).on("close", drop);
      });
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
    });
  const port = await listen(0);
  return {
    port,
    /** Drops every connection and refuses new ones for `ms`. */
    async cut(ms: number) {
      await new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      });
      await new Promise((r) => setTimeout(r, ms));
      await listen(port);
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe("outages and cancel", () => {
  it("Redis keys deleted mid-sweep: reconcile re-enqueues and the sweep completes with every result", async () => {
    fleet = await startFleet("flush", ENV);
    const f = fleet;
    const { sweepId } = await f.createSweep(Array.from({ length: 8 }, (_, i) => tinyConfig(i, 800)));
    await Promise.all([f.spawnWorker(), f.spawnWorker()]);
    await waitFor(
      "two results",
      async () => (await f.db.trial.count({ where: { sweepId, resultAttempt: { not: null } } })) >= 2,
    );
    expect(await emptyRedis(f)).toBeGreaterThan(0);
    // nothing would run the lost queued trials now; the reconciler puts them back
    await waitFor(
      "sweep completed after reconcile",
      async () => {
        await reconcile(f.db, f.queue);
        return (await f.db.sweep.findUniqueOrThrow({ where: { id: sweepId } })).status === "completed";
      },
      45_000,
      1000,
    );
    const trials = await f.db.trial.findMany({ where: { sweepId } });
    expect(trials.map((t) => t.status)).toEqual(Array(8).fill("succeeded"));
    for (const t of trials) expect(t.resultAttempt).toBe(t.attempts);
  });

  it("a job whose hash was deleted but whose id is still listed: its trial runs all the same", async () => {
    // Keys deleted one by one (as above) can leave a job id in the wait list without its hash;
    // BullMQ then hands out the job with empty data and re-creates its hash, so the reconciler
    // sees the job and does not re-enqueue it. The job id is the trial id, which is enough.
    fleet = await startFleet("hashless", ENV);
    const f = fleet;
    const { sweepId, trialIds } = await f.createSweep([tinyConfig(1, 100), tinyConfig(2, 100)]);
    expect(await f.redis.del(`${f.prefix}:trials:${trialIds[0]}`)).toBe(1);
    await f.spawnWorker();
    await sweepDone(f.db, sweepId, 20_000);
    const trials = await f.db.trial.findMany({ where: { sweepId } });
    expect(trials.map((t) => [t.status, t.resultAttempt])).toEqual([
      ["succeeded", 1],
      ["succeeded", 1],
    ]);
  });

  it("Postgres cut for 3 s: result writes are retried and no result is lost", async () => {
    const proxy = await pgProxy();
    try {
      const url = new URL(process.env.DATABASE_URL as string);
      url.host = `127.0.0.1:${proxy.port}`;
      fleet = await startFleet("pgcut", { ...ENV, DATABASE_URL: url.toString() });
      const f = fleet;
      const { sweepId } = await f.createSweep(Array.from({ length: 6 }, (_, i) => tinyConfig(i, 700)));
      const workers = await Promise.all([f.spawnWorker(), f.spawnWorker()]);
      await waitFor(
        "first result",
        async () => (await f.db.trial.count({ where: { sweepId, resultAttempt: { not: null } } })) >= 1,
      );
      await proxy.cut(3000);
      await sweepDone(f.db, sweepId);
      const trials = await f.db.trial.findMany({ where: { sweepId } });
      expect(trials.map((t) => t.status)).toEqual(Array(6).fill("succeeded"));
      for (const t of trials) expect(t.resultAttempt).toBe(t.attempts);
      // the outage was seen and ridden out by retries
      expect(workers.map((w) => w.output()).join("\n")).toMatch(/postgres write failed, retrying/);
    } finally {
      await fleet?.close();
      fleet = undefined;
      await proxy.close();
    }
  });

  it("cancel: running trials are cancelled at once and their workers stop within 5 s", async () => {
    fleet = await startFleet("cancel", ENV);
    const f = fleet;
    const { sweepId } = await f.createSweep(Array.from({ length: 6 }, (_, i) => tinyConfig(i, 30_000)));
    await Promise.all([f.spawnWorker(), f.spawnWorker()]);
    await waitFor(
      "two running trials",
      async () => (await f.db.trial.count({ where: { sweepId, status: "running" } })) === 2,
    );
    const t0 = Date.now();
    const r = await cancelSweep({ db: f.db, trialQueue: f.queue, maxTrialsPerSweep: 1000 }, sweepId);
    expect(r.signalled).toBe(2);
    expect(await f.db.trial.count({ where: { sweepId, status: "running" } })).toBe(0);
    // each worker sees it at its next lease renewal and frees its slot: both go idle
    await waitFor(
      "both workers idle",
      async () => (await f.db.worker.count({ where: { id: { in: f.workers.map((w) => w.id) }, state: "idle" } })) === 2,
      5000,
      50,
    );
    expect(Date.now() - t0).toBeLessThan(5000);
    // its log line comes through the worker's stdout pipe, which may trail its database writes
    for (const w of f.workers)
      await waitFor("the worker's log line", async () => w.output().includes("no longer held"), 3000, 50);
    const trials = await f.db.trial.findMany({ where: { sweepId } });
    expect(trials.map((t) => t.status)).toEqual(Array(6).fill("cancelled"));
    expect(trials.filter((t) => t.attempts === 1)).toHaveLength(2); // the other four never started
    expect((await f.db.sweep.findUniqueOrThrow({ where: { id: sweepId } })).status).toBe("cancelled");
  });
});
