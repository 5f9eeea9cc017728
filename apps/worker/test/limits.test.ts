// Wall-clock limits per trial: the deployment's TRIAL_MAX_SECONDS, or a sweep's own
// trialMaxSeconds below it. A trial that runs past its limit is stopped and failed with errorClass
// "timeout", once (no retry), and the worker takes the next one.
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Fleet, startFleet, sweepDone, tinyConfig } from "./fleet.ts";

let fleet: Fleet;
beforeAll(async () => {
  // sleep trainer: 1 ms per token, so 1e6 tokens would take ~17 minutes; 2048 take 2 s
  fleet = await startFleet("limits", { TRIAL_MAX_SECONDS: "3", POWERSWEEP_SLEEP_MS_PER_TOKEN: "1" });
  await fleet.spawnWorker(["--concurrency", "1"]);
});
afterAll(async () => {
  await fleet?.close();
});

it("a trial past TRIAL_MAX_SECONDS is stopped and failed (timeout, one attempt); a short one succeeds", async () => {
  const { sweepId, trialIds } = await fleet.createSweep([tinyConfig(1, 1e6), tinyConfig(2, 1024)], {
    trainer: "sleep",
    maxAttempts: 3,
  });
  await sweepDone(fleet.db, sweepId, 90_000);
  const [stuck, short] = await Promise.all(
    trialIds.map((id) => fleet.db.trial.findUniqueOrThrow({ where: { id: id as string } })),
  );
  expect(stuck).toMatchObject({ status: "failed", errorClass: "timeout", attempts: 1 });
  expect(stuck?.error).toMatch(/wall-clock limit of 3 s/);
  expect(short?.status).toBe("succeeded");
}, 120_000);

it("a sweep's own trialMaxSeconds, below the deployment's, applies", async () => {
  const { sweepId, trialIds } = await fleet.createSweep([tinyConfig(3, 1e6)], {
    trainer: "sleep",
    spec: { trialMaxSeconds: 1 },
  });
  await sweepDone(fleet.db, sweepId, 90_000);
  const t = await fleet.db.trial.findUniqueOrThrow({ where: { id: trialIds[0] as string } });
  expect(t).toMatchObject({ status: "failed", errorClass: "timeout", attempts: 1 });
  expect(t.error).toMatch(/wall-clock limit of 1 s \(the sweep's trialMaxSeconds\)/);
}, 120_000);
