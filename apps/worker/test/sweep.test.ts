// A whole sweep through a fleet of worker processes, plus the idempotency of the result write.

import { listWorkers, markRunning, recordResult } from "@powersweep/orchestrator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Fleet, startFleet, sweepDone, tinyConfig } from "./fleet.ts";

const TRAINER = process.env.WORKER_TEST_TRAINER ?? "tfjs";

let fleet: Fleet;
beforeAll(async () => {
  // tfjs steps hold the event loop; under load a 2 s lock can lapse and a live job look stalled.
  // no sweeper: a trial created without a job here must stay without one
  fleet = await startFleet("sweep", { WORKER_LOCK_MS: "30000", WORKER_STALLED_MS: "5000" }, { sweeper: false });
});
afterAll(async () => {
  await fleet?.close();
});

describe("worker fleet", () => {
  it("runs a 24-trial sweep on 3 worker processes with exactly 24 results", async () => {
    const configs = Array.from({ length: 24 }, (_, i) => tinyConfig(i, 512, 10 ** (-3 + (i % 6) * 0.4)));
    const { sweepId, trialIds } = await fleet.createSweep(configs, { trainer: TRAINER });
    await Promise.all([fleet.spawnWorker(), fleet.spawnWorker(), fleet.spawnWorker()]);
    await sweepDone(fleet.db, sweepId, 110_000);
    const trials = await fleet.db.trial.findMany({ where: { sweepId } });
    expect(trials).toHaveLength(24);
    expect(new Set(trials.map((t) => t.id))).toEqual(new Set(trialIds));
    for (const t of trials) {
      expect(["succeeded", "diverged"]).toContain(t.status);
      expect(t.resultAttempt).toBe(1);
      expect(t.attempts).toBe(1);
      expect(t.finishedAt).not.toBeNull();
      expect(t.tokensSeen).toBeGreaterThanOrEqual(512);
    }
    const succeeded = trials.filter((t) => t.status === "succeeded");
    expect(succeeded.length).toBeGreaterThan(0);
    for (const t of succeeded) expect(t.testPerplexity).toBeCloseTo(Math.exp(t.testLoss as number), 5);
    // every finished trial stored its dense curve (docs/curves.md) for the recorded attempt
    const curves = await fleet.db.trialCurve.findMany({ where: { trialId: { in: trialIds } } });
    expect(new Set(curves.map((c) => c.trialId))).toEqual(new Set(trials.map((t) => t.id)));
    for (const c of curves) expect((c.curve as { step: number[] }).step.length).toBeGreaterThan(0);
    // the work was shared: more than one worker ran trials
    expect(new Set(trials.map((t) => t.workerId)).size).toBeGreaterThan(1);
    // a refit was requested for the sweep (the "trial finished" event)
    const fits = await fleet.redis.keys(`${fleet.prefix}:fits:*`);
    expect(fits.length).toBeGreaterThan(0);
    // the fleet view shows the three workers, alive
    const ws = (await listWorkers(fleet.db, { lostAfterSeconds: 10 })).filter((w) =>
      fleet.workers.some((p) => p.id === w.id),
    );
    expect(ws).toHaveLength(3);
    for (const w of ws) expect(["idle", "busy"]).toContain(w.state);
  }, 120_000); // ~10 s on an idle machine; generous for a loaded 2-core CI box

  it("records a result once: a second completion of the same attempt changes nothing", async () => {
    const { trialIds } = await fleet.createSweep([tinyConfig(1000)], { trainer: "sleep", enqueue: false });
    // claim it directly, as a worker would (no job: no worker takes it)
    const claimed = await markRunning(fleet.db, trialIds[0] as string, "test-worker");
    expect(claimed?.attempt).toBe(1);
    const first = await recordResult(fleet.db, trialIds[0] as string, 1, {
      status: "succeeded",
      trainLoss: 1,
      testLoss: 2,
      testPerplexity: Math.exp(2),
    });
    const second = await recordResult(fleet.db, trialIds[0] as string, 1, {
      status: "failed",
      error: "late duplicate",
      errorClass: "crash",
    });
    expect([first, second]).toEqual([true, false]);
    const t = await fleet.db.trial.findUniqueOrThrow({ where: { id: trialIds[0] as string } });
    expect(t.status).toBe("succeeded");
    expect(t.testLoss).toBe(2);
    expect(t.error).toBeNull();
    // a finished trial is not claimed again
    expect(await markRunning(fleet.db, trialIds[0] as string, "test-worker")).toBeNull();
  });

  it("shows a worker that stopped heartbeating as lost", async () => {
    const w = fleet.workers[0];
    if (!w) throw new Error("no worker");
    w.proc.kill("SIGKILL");
    await w.exited;
    await new Promise((r) => setTimeout(r, 1500));
    const views = await listWorkers(fleet.db, { lostAfterSeconds: 1 });
    expect(views.find((v) => v.id === w.id)?.state).toBe("lost");
    // the others still heartbeat
    const alive = views.filter((v) => fleet.workers.slice(1).some((p) => p.id === v.id));
    expect(alive.map((v) => v.state)).not.toContain("lost");
  });
});
