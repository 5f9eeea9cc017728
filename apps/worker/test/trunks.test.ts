// Shared trunks through the whole system (docs/branches.md): a sweep accepted with `share: trunks`
// runs each group's longest trial once, its worker saves a checkpoint for each shorter trial, and
// those train only their decay; every result equals the same sweep run from scratch.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createSweep, getSweep } from "@powersweep/orchestrator";
import type { LrGridSweep } from "@powersweep/spec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Fleet, startFleet, sweepDone, waitFor } from "./fleet.ts";

let fleet: Fleet;
beforeAll(async () => {
  fleet = await startFleet("trunks", { WORKER_LOCK_MS: "30000", WORKER_STALLED_MS: "5000" });
  await Promise.all([fleet.spawnWorker(), fleet.spawnWorker()]);
});
afterAll(async () => {
  await fleet?.close();
});

const doc = (share: "trunks" | "none", name: string): LrGridSweep => ({
  kind: "lr-grid",
  name,
  trainer: "tfjs",
  share,
  axes: {
    models: [{ name: "d16-L1", dModel: 16, nLayers: 1, nHeads: 2, dHead: 8, mlpHidden: 32, baseWidth: 16 }],
    tokens: [1024, 2048, 4096],
    batchSize: [4],
    lr: [0.01, 0.03],
    seeds: [0],
  },
  schedule: { type: "wsd", warmupTokens: 128, decayFraction: 0.25, decayShape: "exponential" },
  training: { seqLen: 16, evalTokens: 256, mup: { embMultiplier: 1, residualMultiplier: 1, initStd: 0.05 } },
});

const deps = () => ({ db: fleet.db, trialQueue: fleet.queue, maxTrialsPerSweep: 1000 });
const results = async (sweepId: string) =>
  new Map(
    (await fleet.db.trial.findMany({ where: { sweepId } })).map((t) => [
      t.key,
      { status: t.status, testLoss: t.testLoss, trainLoss: t.trainLoss, tokensSeen: t.tokensSeen, row: t },
    ]),
  );

describe("shared trunks", () => {
  it("trains each group's trunk once and gives every trial the result it has from scratch", async () => {
    const shared = await createSweep(deps(), doc("trunks", "shared"));
    const scratch = await createSweep(deps(), doc("none", "scratch"));
    await sweepDone(fleet.db, shared.id!, 150_000);
    await sweepDone(fleet.db, scratch.id!, 150_000);
    const a = await results(scratch.id!);
    const b = await results(shared.id!);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [key, r] of b) {
      expect(r.status).toBe("succeeded");
      // bit for bit: a branch continues the exact state its trial would have had at that step
      expect(r.testLoss).toBe(a.get(key)!.testLoss);
      expect(r.trainLoss).toBe(a.get(key)!.trainLoss);
      expect(r.tokensSeen).toBe(a.get(key)!.tokensSeen);
    }
    // The two shorter trials of each lr branched from the longest one's checkpoints.
    const rows = [...b.values()].map((r) => r.row);
    const hosts = rows.filter((t) => t.tokens === 4096);
    for (const t of rows.filter((t) => t.tokens < 4096)) {
      const host = hosts.find((h) => h.key === t.branchFrom);
      expect(host?.lr).toBe(t.lr);
      expect(t.branchStep).toBeGreaterThan(0);
      expect(t.branchCheckpoint).toContain(host!.id);
    }
    // Tokens: 2 × (4096 + 2 decay branches) instead of 2 × (1024 + 2048 + 4096).
    const { trainingTokens } = await getSweep(fleet.db, shared.id!);
    expect(trainingTokens.fromScratch).toBe(2 * (1024 + 2048 + 4096));
    expect(trainingTokens.planned).toBe(
      rows.reduce((sum, t) => sum + t.tokens - (t.branchStep ?? 0) * t.batchSize * 16, 0),
    );
    expect(trainingTokens.planned / trainingTokens.fromScratch).toBeLessThan(0.7);
    // Nothing needs the checkpoints any more: the sweep's branch store is gone.
    expect(existsSync(join(fleet.checkpointDir, "branches", shared.id!))).toBe(false);
  }, 200_000);

  it("a branch whose trunk ended without its checkpoint trains from scratch, with the same result", async () => {
    // The host is cancelled before any worker takes it (as if it had failed for good): the queue is
    // paused from before the accept until then.
    await fleet.queue.pause();
    const shared = await createSweep(deps(), {
      ...doc("trunks", "orphans"),
      axes: { ...doc("trunks", "").axes, lr: [0.02] },
    });
    const host = await fleet.db.trial.findFirstOrThrow({ where: { sweepId: shared.id!, tokens: 4096 } });
    await fleet.db.trial.update({ where: { id: host.id }, data: { status: "cancelled", finishedAt: new Date() } });
    await fleet.queue.resume();
    await waitFor(
      "the shorter trials to finish",
      async () => {
        const left = await fleet.db.trial.count({
          where: { sweepId: shared.id!, tokens: { lt: 4096 }, status: { in: ["queued", "running"] } },
        });
        return left === 0;
      },
      150_000,
      250,
    );
    const scratch = await createSweep(deps(), {
      ...doc("none", "orphans-scratch"),
      axes: { ...doc("none", "").axes, lr: [0.02], tokens: [1024, 2048] },
    });
    await sweepDone(fleet.db, scratch.id!, 150_000);
    const a = await results(scratch.id!);
    for (const t of await fleet.db.trial.findMany({ where: { sweepId: shared.id!, tokens: { lt: 4096 } } })) {
      expect(t.status).toBe("succeeded");
      expect(t.branchFrom).toBeNull(); // released: trained from scratch
      expect(t.testLoss).toBe(a.get(t.key)!.testLoss);
    }
  }, 200_000);
});
