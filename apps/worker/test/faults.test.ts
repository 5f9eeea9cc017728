// Worker deaths: SIGKILL mid-trial (stalled job, retried, resumed from the checkpoint) and SIGTERM
// (checkpoint, release back to the queue, finished by another worker). The sleep trainer makes
// trials last a known time (1 ms per token here) so the kills land mid-trial.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Fleet, startFleet, sweepDone, tinyConfig, waitFor } from "./fleet.ts";

// 3,000 tokens → 3 s per trial; checkpoints every 500 tokens.
const ENV = { POWERSWEEP_SLEEP_MS_PER_TOKEN: "1", WORKER_CHECKPOINT_TOKENS: "500" };

let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.close();
});

/** Tokens recorded in the sleep trainer's checkpoint of a trial. */
async function checkpointTokens(f: Fleet, trialId: string): Promise<number> {
  const c = JSON.parse(await readFile(join(f.checkpointDir, trialId, "sleep.json"), "utf8")) as { tokens: number };
  return c.tokens;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] as number;

/** The running trial of the given worker process, once it has been running for `minMs`. */
async function runningTrialOf(f: Fleet, workerId: string, minMs: number) {
  return waitFor(`a trial running on ${workerId}`, async () => {
    const t = await f.db.trial.findFirst({ where: { workerId, status: "running" } });
    return t?.startedAt && Date.now() - t.startedAt.getTime() >= minMs ? t : null;
  });
}

describe("worker faults", () => {
  it("SIGKILL mid-trial: another worker retries it from its checkpoint; one result, attempt 2", async () => {
    fleet = await startFleet("sigkill", ENV);
    const { sweepId } = await fleet.createSweep(Array.from({ length: 4 }, (_, i) => tinyConfig(i, 3000)));
    const [victim] = await Promise.all([fleet.spawnWorker(), fleet.spawnWorker()]);
    if (!victim) throw new Error("no worker");
    const trial = await runningTrialOf(fleet, victim.id, 1200);
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
    const all = await fleet.db.trial.findMany({ where: { sweepId } });
    // resumed: the second attempt did not start from zero, so it took less time than the others
    const others = all.filter((x) => x.id !== trial.id).map((x) => x.wallSeconds as number);
    expect(t.wallSeconds as number).toBeLessThan(0.9 * median(others));
    expect(all.map((x) => x.status)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
    expect(all.filter((x) => x.id !== trial.id).every((x) => x.attempts === 1)).toBe(true);
  });

  it("SIGTERM: the running trial is checkpointed and released, then finished by another worker", async () => {
    fleet = await startFleet("sigterm", ENV);
    const { sweepId } = await fleet.createSweep(Array.from({ length: 3 }, (_, i) => tinyConfig(i, 3000)));
    const victim = await fleet.spawnWorker();
    const trial = await runningTrialOf(fleet, victim.id, 800);
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
    // its job went back to wait, not to failed: a fresh worker finishes it (no reconcile needed)
    const other = await fleet.spawnWorker();
    await sweepDone(fleet.db, sweepId);
    const t = await fleet.db.trial.findUniqueOrThrow({ where: { id: trial.id } });
    expect(t.status).toBe("succeeded");
    expect(t.attempts).toBe(2);
    expect(t.resultAttempt).toBe(2);
    expect(t.workerId).toBe(other.id);
    // resumed from the checkpoint: faster than the trials that ran from zero
    const others = (await fleet.db.trial.findMany({ where: { sweepId, id: { not: trial.id } } })).map(
      (x) => x.wallSeconds as number,
    );
    expect(t.wallSeconds as number).toBeLessThan(0.9 * median(others));
  });
});
