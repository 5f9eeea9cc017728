// The benchmark-only sleep trainer speaks the decay-branch options like the real trainers
// (docs/branches.md), so the worker's branch handling can be measured without training.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TrialConfig } from "@powersweep/spec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSleepTrainer } from "../src/sleep.ts";
import { InvalidConfigError } from "../src/types.ts";

const config = (tokens: number): TrialConfig => ({
  model: { name: "d32-L1", dModel: 32, nLayers: 1, nHeads: 2, dHead: 16, mlpHidden: 64, baseWidth: 32 },
  mup: { embMultiplier: 1, residualMultiplier: 1, initStd: 0.05 },
  schedule: { type: "wsd", lr: 1e-2, warmupTokens: 0, decayFraction: 0.2, decayShape: "linear" },
  tokens,
  batchSize: 8,
  seqLen: 32,
  corpus: { type: "sotu" },
  tokenizer: { type: "byte" },
  optimizer: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
  evalTokens: 1000,
  seed: 1,
});

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sleep-branches-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("sleep trainer: decay branches", () => {
  it("writes and announces branch checkpoints in step order; a branch starts from its trunk checkpoint", async () => {
    const trainer = createSleepTrainer({ msPerToken: 1e-4 });
    const branches = [
      { step: 33, dir: join(dir, "host", "step-33"), config: config(40 * 256) },
      { step: 17, dir: join(dir, "host", "step-17"), config: config(20 * 256) },
    ];
    const announced: number[] = [];
    const host = await trainer.runTrial(config(80 * 256), {
      branchCheckpoints: branches,
      onBranchCheckpoint: (step) => {
        announced.push(step);
      },
    });
    expect(host.status).toBe("succeeded");
    expect(host.startStep).toBe(0);
    expect(announced).toEqual([17, 33]);
    expect(existsSync(join(dir, "host", "step-17", "sleep.json"))).toBe(true);
    const branch = await trainer.runTrial(config(20 * 256), { startFrom: { dir: branches[1]!.dir, step: 17 } });
    expect(branch.startStep).toBe(17);
    expect(branch.steps).toBe(20);
    await expect(
      trainer.runTrial(config(80 * 256), { branchCheckpoints: [{ ...branches[1]!, step: 18 }] }),
    ).rejects.toBeInstanceOf(InvalidConfigError);
  });
});
