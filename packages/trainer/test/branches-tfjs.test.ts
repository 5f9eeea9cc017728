// Decay branches from a shared trunk, TensorFlow.js trainer (docs/branches.md).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TrialConfig } from "@powersweep/spec";
import { sharedSteps } from "@powersweep/sweep";
import { describe, expect, it } from "vitest";
import { curveSteps } from "../src/curve.ts";
import { createTfjsTrainer } from "../src/tfjs.ts";
import { branchCases, outcome } from "./branch-cases.ts";

describe("tfjs trainer: decay branches from a trunk checkpoint", { timeout: 120_000 }, () => {
  branchCases({ trainer: createTfjsTrainer({ backend: "wasm" }), unitSteps: 20, power: true });
});

describe("tfjs trainer: a branch past the every-step curve grid", { timeout: 180_000 }, () => {
  const trainer = createTfjsTrainer({ backend: "wasm" });
  /** d16, 4 × 16 = 64 tokens per step: cheap enough for runs longer than 256 steps. */
  const small = (steps: number): TrialConfig => ({
    model: { name: "d16-L1", dModel: 16, nLayers: 1, nHeads: 2, dHead: 8, mlpHidden: 32, baseWidth: 16 },
    mup: { embMultiplier: 1, residualMultiplier: 1, initStd: 0.05 },
    schedule: { type: "wsd", lr: 1e-2, warmupTokens: 0, decayFraction: 0.2, decayShape: "cosine" },
    tokens: steps * 64,
    batchSize: 4,
    seqLen: 16,
    corpus: { type: "sotu" },
    tokenizer: { type: "byte" },
    optimizer: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
    evalTokens: 256,
    seed: 5,
  });

  it("carries the branch's running train-loss mean across the checkpoint (300 steps: every 2nd step recorded)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "branches-sparse-"));
    try {
      const branchConfig = small(300);
      const step = sharedSteps(branchConfig); // 241: between two recorded steps of the branch
      expect(curveSteps(300).includes(step)).toBe(false);
      const branch = { step, dir: join(dir, `step-${step}`), config: branchConfig };
      const host = await trainer.runTrial(small(320), { branchCheckpoints: [branch] });
      expect(host.status).toBe("succeeded");
      const fromBranch = await trainer.runTrial(branchConfig, { startFrom: { dir: branch.dir, step } });
      expect(fromBranch.startStep).toBe(step);
      expect(outcome(fromBranch)).toStrictEqual(outcome(await trainer.runTrial(branchConfig)));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
