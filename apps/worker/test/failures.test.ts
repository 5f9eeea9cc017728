// Failure classes: a crash is retried (BullMQ attempts, with backoff) and marked failed/"crash"
// only after the last attempt; an invalid config fails at once with its reason; a diverged run is
// a result.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Fleet, startFleet, sweepDone, tinyConfig, waitFor } from "./fleet.ts";

let fleet: Fleet;
beforeAll(async () => {
  fleet = await startFleet("failures", { WORKER_LOCK_MS: "30000", WORKER_STALLED_MS: "5000" });
  await fleet.spawnWorker(["--concurrency", "2"]);
});
afterAll(async () => {
  await fleet?.close();
});

describe("failure classes", () => {
  it("crash: queued again between attempts, failed with errorClass crash after maxAttempts", async () => {
    // a trainer this fleet does not offer: every attempt throws
    const { sweepId, trialIds } = await fleet.createSweep([tinyConfig(1)], {
      trainer: "no-such-trainer",
      maxAttempts: 2,
    });
    const id = trialIds[0] as string;
    // between the attempts (BullMQ backoff: 1 s) the trial is back to queued with the crash noted
    const between = await waitFor("queued after the first crash", async () => {
      const t = await fleet.db.trial.findUniqueOrThrow({ where: { id } });
      return t.status === "queued" && t.attempts === 1 ? t : null;
    });
    expect(between.errorClass).toBe("crash");
    await sweepDone(fleet.db, sweepId);
    const t = await fleet.db.trial.findUniqueOrThrow({ where: { id } });
    expect(t.status).toBe("failed");
    expect(t.errorClass).toBe("crash");
    expect(t.attempts).toBe(2);
    expect(t.resultAttempt).toBe(2);
    expect(t.error).toMatch(/unknown trainer "no-such-trainer"/);
  });

  it("diverged: a result, not a failure (one attempt, status diverged, the reason kept)", async () => {
    const { sweepId, trialIds } = await fleet.createSweep([tinyConfig(3, 1024, 30)], {
      trainer: "tfjs",
      maxAttempts: 3,
    });
    await sweepDone(fleet.db, sweepId);
    const t = await fleet.db.trial.findUniqueOrThrow({ where: { id: trialIds[0] as string } });
    expect(t.status).toBe("diverged");
    expect(t.attempts).toBe(1);
    expect(t.resultAttempt).toBe(1);
    expect(t.error).toMatch(/exceeds|NaN|Infinity/);
  });

  it("invalid config: failed at once (one attempt) with errorClass invalid-config and the reason", async () => {
    const bad = { ...tinyConfig(2), batchSize: 0 };
    const { sweepId, trialIds } = await fleet.createSweep([bad], { trainer: "tfjs", maxAttempts: 3 });
    await sweepDone(fleet.db, sweepId);
    const t = await fleet.db.trial.findUniqueOrThrow({ where: { id: trialIds[0] as string } });
    expect(t.status).toBe("failed");
    expect(t.errorClass).toBe("invalid-config");
    expect(t.attempts).toBe(1);
    expect(t.error).toMatch(/batchSize/);
    const job = await fleet.queue.getJob(t.id);
    expect(await job?.getState()).toBe("failed");
  });
});
