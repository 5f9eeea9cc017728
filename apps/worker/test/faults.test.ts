// Worker deaths: SIGKILL mid-trial (the lease expires, the sweeper queues the trial again, resumed
// from the checkpoint) and SIGTERM (checkpoint, release back to the queue, finished by another
// worker); a SIGKILL together with an emptied Redis; the API killed mid-accept. The sleep trainer makes
// trials last a known time (1 ms per token here) so the kills land mid-trial.
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { reconcile } from "@powersweep/orchestrator";
import { afterEach, describe, expect, it } from "vitest";
import { emptyRedis, FLEET_LEASE_SECONDS, type Fleet, startFleet, sweepDone, tinyConfig, waitFor } from "./fleet.ts";

const ROOT = resolve(import.meta.dirname, "../../..");

// 3,000 tokens → 3 s per trial; checkpoints every 500 tokens.
const ENV = { POWERSWEEP_SLEEP_MS_PER_TOKEN: "1", CHECKPOINT_EVERY_TOKENS: "500" };

let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.close();
});

/** Tokens recorded in the sleep trainer's checkpoint of a trial. */
async function checkpointTokens(f: Fleet, trialId: string): Promise<number> {
  const c = JSON.parse(await readFile(join(f.checkpointDir, trialId, "sleep.json"), "utf8")) as { tokens: number };
  return c.tokens;
}

/**
 * The running trial of the given worker process, once it has been running for `minMs` and has
 * written a checkpoint of at least `minCheckpointTokens` (a loaded machine may start a trainer late).
 */
async function runningTrialOf(f: Fleet, workerId: string, minMs: number, minCheckpointTokens = 0) {
  return waitFor(`a trial running on ${workerId}`, async () => {
    const t = await f.db.trial.findFirst({ where: { workerId, status: "running" } });
    if (!t?.startedAt || Date.now() - t.startedAt.getTime() < minMs) return null;
    if (minCheckpointTokens && !((await checkpointTokens(f, t.id).catch(() => 0)) >= minCheckpointTokens)) return null;
    return t;
  });
}

describe("worker faults", () => {
  it("SIGKILL mid-trial: after its lease expires another worker retries it from its checkpoint; one result, attempt 2", async () => {
    fleet = await startFleet("sigkill", ENV);
    const { sweepId } = await fleet.createSweep(Array.from({ length: 4 }, (_, i) => tinyConfig(i, 3000)));
    const [victim] = await Promise.all([fleet.spawnWorker(), fleet.spawnWorker()]);
    if (!victim) throw new Error("no worker");
    const trial = await runningTrialOf(fleet, victim.id, 1200, 500);
    victim.proc.kill("SIGKILL");
    await victim.exited;
    // killed ≥ 1.2 s into a 3 s trial that checkpoints every 500 tokens: a checkpoint is on disk
    expect(await checkpointTokens(fleet, trial.id)).toBeGreaterThanOrEqual(500);
    await sweepDone(fleet.db, sweepId);
    const t = await fleet.db.trial.findUniqueOrThrow({ where: { id: trial.id } });
    expect(t.status).toBe("succeeded");
    expect(t.attempts).toBe(2);
    expect(t.resultAttempt).toBe(2);
    expect(t.workerId).not.toBe(victim.id);
    expect(t.checkpointPath).toBe(join(fleet.checkpointDir, trial.id));
    // That attempt 2 resumed from the checkpoint (not from zero, with the same result) is asserted
    // without a clock by the trainers' resume tests (packages/trainer/test).
    const all = await fleet.db.trial.findMany({ where: { sweepId } });
    expect(all.map((x) => x.status)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
    expect(all.filter((x) => x.id !== trial.id).every((x) => x.attempts === 1)).toBe(true);
  });

  it("SIGTERM: the running trial is checkpointed and released, then finished by another worker", async () => {
    fleet = await startFleet("sigterm", ENV);
    const { sweepId } = await fleet.createSweep(Array.from({ length: 3 }, (_, i) => tinyConfig(i, 3000)));
    const victim = await fleet.spawnWorker();
    const trial = await runningTrialOf(fleet, victim.id, 800, 500);
    const t0 = Date.now();
    victim.proc.kill("SIGTERM");
    const code = await victim.exited;
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    // released: back to queued, with its checkpoint on disk
    const released = await fleet.db.trial.findUniqueOrThrow({ where: { id: trial.id } });
    expect(released.status).toBe("queued");
    expect(released.errorClass).toBe("shutdown");
    expect(await checkpointTokens(fleet, trial.id)).toBeGreaterThanOrEqual(500);
    const w = await fleet.db.worker.findUniqueOrThrow({ where: { id: victim.id } });
    expect(w.state).toBe("stopped");
    // the fleet page lists what users may name; the benchmark-only sleep trainer runs but is not offered
    expect(w.backend.split(",")).toEqual(["tfjs", "torch"]);
    // its job went back to wait, not to failed: a fresh worker finishes it (no reconcile needed)
    const other = await fleet.spawnWorker();
    await sweepDone(fleet.db, sweepId);
    const t = await fleet.db.trial.findUniqueOrThrow({ where: { id: trial.id } });
    expect(t.status).toBe("succeeded");
    expect(t.attempts).toBe(2);
    expect(t.resultAttempt).toBe(2);
    expect(t.workerId).toBe(other.id);
  });
});

describe("Postgres is the record", () => {
  it("SIGKILL of a worker and an emptied Redis at once: every trial finishes exactly once, with no manual step", async () => {
    fleet = await startFleet("killflush", ENV);
    const f = fleet;
    // 16 trials of 1.5 s on two workers with two slots each
    const { sweepId } = await f.createSweep(Array.from({ length: 16 }, (_, i) => tinyConfig(i, 1500)));
    const [victim, survivor] = await Promise.all([
      f.spawnWorker(["--concurrency", "2"]),
      f.spawnWorker(["--concurrency", "2"]),
    ]);
    if (!victim || !survivor) throw new Error("no worker");
    await runningTrialOf(f, victim.id, 500);
    const lost = await f.db.trial.findMany({ where: { workerId: victim.id, status: "running" } });
    victim.proc.kill("SIGKILL");
    expect(await emptyRedis(f)).toBeGreaterThan(0);
    const t0 = Date.now();
    await sweepDone(f.db, sweepId, (FLEET_LEASE_SECONDS + 30) * 1000);
    expect(Date.now() - t0).toBeLessThan((FLEET_LEASE_SECONDS + 30) * 1000);
    const trials = await f.db.trial.findMany({ where: { sweepId } });
    expect(trials.map((t) => [t.status, t.error])).toEqual(Array(16).fill(["succeeded", null]));
    // one result per trial, from the attempt that last claimed it
    for (const t of trials) expect(t.resultAttempt).toBe(t.attempts);
    // the victim's trials ran again (attempt 2) on the survivor; nobody else ran twice
    expect(lost.length).toBeGreaterThan(0);
    for (const t of trials) {
      const wasLost = lost.some((l) => l.id === t.id);
      expect(t.attempts).toBe(wasLost ? 2 : 1);
      if (wasLost) expect(t.workerId).toBe(survivor.id);
    }
    expect(survivor.output()).not.toMatch(/nothing changed/);
  }, 90_000);

  it("SIGKILL of the API mid-accept: no trial of the half-written sweep runs, and the sweeper removes it", async () => {
    fleet = await startFleet("apikill", ENV);
    const f = fleet;
    await f.spawnWorker(["--concurrency", "2"]);
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const api = spawn(process.execPath, [join(ROOT, "apps/api/dist/main.js")], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: f.databaseUrl,
        REDIS_PREFIX: f.prefix,
        PORT: String(port),
        POWERSWEEP_AUTH: "off",
        MAX_TRIALS_PER_SWEEP: "100000",
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const apiExited = new Promise((r) => api.on("exit", r));
    try {
      await waitFor("the API listening", () =>
        fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      );
      // 40,000 sleep trials: seconds to accept on this machine
      const doc = {
        kind: "lr-grid",
        name: "half-written",
        trainer: "sleep",
        // every trial runnable at once (no branch waiting for a trunk): jobs from the first chunks on
        share: "none",
        axes: {
          models: [tinyConfig(0).model],
          tokens: Array.from({ length: 20 }, (_, i) => 100 + i),
          batchSize: Array.from({ length: 20 }, (_, i) => 4 + i),
          lr: Array.from({ length: 10 }, (_, i) => 1e-3 * (i + 1)),
          seeds: Array.from({ length: 10 }, (_, i) => i),
        },
      };
      const post = fetch(`http://127.0.0.1:${port}/v1/sweeps`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(doc),
      }).catch(() => null);
      // killed once its first chunks are written and enqueued (workers could take them)
      const sweep = await waitFor(
        "trials of the sweep being accepted",
        async () => {
          const s = await f.db.sweep.findFirst({ where: { name: "half-written" } });
          return s && (await f.db.trial.count({ where: { sweepId: s.id } })) >= 2000 ? s : null;
        },
        60_000,
        20,
      );
      api.kill("SIGKILL");
      await apiExited;
      await post;
      const jobs = await f.queue.getJobCounts("prioritized", "delayed", "active", "completed");
      expect(Object.values(jobs).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      // the worker keeps meeting the sweep's jobs for a while: none of its trials is claimed
      await new Promise((r) => setTimeout(r, 3000));
      expect((await f.db.sweep.findUniqueOrThrow({ where: { id: sweep.id } })).status).toBe("creating");
      expect(await f.db.trial.count({ where: { sweepId: sweep.id, NOT: { status: "queued" } } })).toBe(0);
      expect(await f.db.trial.count({ where: { sweepId: sweep.id, attempts: { gt: 0 } } })).toBe(0);
      // its heartbeat stopped: the sweeper removes it (here without waiting ABANDONED_AFTER_MS)
      const r = await reconcile(f.db, f.queue, { sweepIds: [sweep.id], abandonedAfterMs: 0 });
      expect(r.abandoned).toBe(1);
      expect(await f.db.trial.count({ where: { sweepId: sweep.id } })).toBe(0);
    } finally {
      if (api.exitCode === null && api.signalCode === null) api.kill("SIGKILL");
    }
  }, 120_000);
});
