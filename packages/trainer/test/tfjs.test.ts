import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setGradientWorker } from "@powersweep/model";
import type { TrialConfig } from "@powersweep/spec";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHECKPOINT_MANIFEST } from "../src/checkpoint.ts";
import { evalSteps } from "../src/curve.ts";
import { createTfjsTrainer } from "../src/tfjs.ts";
import { InvalidConfigError, type TrialProgress } from "../src/types.ts";

const SEQ = 32;
const BATCH = 8;
const TOKENS_PER_STEP = SEQ * BATCH;

function trial(overrides: Partial<TrialConfig> = {}): TrialConfig {
  return {
    model: { name: "d32-L1", dModel: 32, nLayers: 1, nHeads: 2, dHead: 16, mlpHidden: 64, baseWidth: 32 },
    mup: { embMultiplier: 1, residualMultiplier: 1, initStd: 0.05 },
    schedule: { type: "constant", lr: 1e-2, warmupTokens: 0 },
    tokens: 40 * TOKENS_PER_STEP,
    batchSize: BATCH,
    seqLen: SEQ,
    corpus: { type: "sotu" },
    tokenizer: { type: "byte" },
    optimizer: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
    evalTokens: 1000, // not a multiple of seqLen: the last window is partly padding
    seed: 1,
    ...overrides,
  };
}

const trainer = createTfjsTrainer({ backend: "wasm" });
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tfjs-trainer-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("tfjs trainer", () => {
  it("trains on the SOTU corpus: loss goes down, perplexity = exp(held-out loss), counts add up", async () => {
    const progress: TrialProgress[] = [];
    const config = trial({ tokens: 40 * TOKENS_PER_STEP - 5 }); // not a multiple: steps = ceil
    const result = await trainer.runTrial(config, { onProgress: (p) => progress.push(p), progressIntervalMs: 0 });
    expect(result.status).toBe("succeeded");
    expect(result.backend).toBe("tfjs-wasm");
    expect(result.steps).toBe(40);
    expect(result.tokensSeen).toBe(40 * TOKENS_PER_STEP);
    const first = progress[0] as TrialProgress;
    expect(first.step).toBe(1);
    expect(first.trainLoss).toBeGreaterThan(Math.log(256) - 0.5); // a fresh byte model ≈ ln 256
    expect(result.trainLoss as number).toBeLessThan(first.trainLoss - 1);
    expect(result.testLoss as number).toBeLessThan(first.trainLoss - 1);
    expect(result.testPerplexity).toBeCloseTo(Math.exp(result.testLoss as number), 6);
    expect(result.tokensPerSecond).toBeGreaterThan(0);
    expect(result.wallSeconds).toBeGreaterThan(0);
    // every step reported at interval 0; the last report carries the held-out loss
    expect(progress.map((p) => p.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(progress.at(-1)?.evalLoss).toBe(result.testLoss);
    expect(progress[1]?.tokens).toBe(2 * TOKENS_PER_STEP);
  });

  it("reports progress at a bounded rate and keeps the event loop turning between steps", async () => {
    const progress: TrialProgress[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const result = await trainer.runTrial(trial({ tokens: 20 * TOKENS_PER_STEP }), {
      onProgress: (p) => progress.push(p),
      progressIntervalMs: 60_000,
    });
    clearInterval(timer);
    expect(result.status).toBe("succeeded");
    // the first step, then only the held-out evaluations (always reported, like the exec protocol's)
    expect(progress.filter((p) => p.evalLoss === undefined).map((p) => p.step)).toEqual([1]);
    expect(progress.filter((p) => p.evalLoss !== undefined).map((p) => p.step)).toEqual(evalSteps(20, null));
    expect(ticks).toBeGreaterThan(5);
  });

  it("is deterministic for a seed", async () => {
    const config = trial({ tokens: 5 * TOKENS_PER_STEP });
    const a = await trainer.runTrial(config);
    const b = await trainer.runTrial(config);
    const c = await trainer.runTrial({ ...config, seed: 2 });
    expect(b.testLoss).toBe(a.testLoss);
    expect(b.trainLoss).toBe(a.trainLoss);
    expect(c.testLoss).not.toBe(a.testLoss);
  });

  it("gives the same numbers with the gradient worker thread off (as a multi-slot worker runs it)", async () => {
    const config = trial({ tokens: 5 * TOKENS_PER_STEP });
    const withThread = await trainer.runTrial(config);
    try {
      const without = await createTfjsTrainer({ backend: "wasm", gradientWorker: false }).runTrial(config);
      expect(without.testLoss).toBe(withThread.testLoss);
      expect(without.trainLoss).toBe(withThread.trainLoss);
    } finally {
      setGradientWorker(null);
    }
  });

  it("reports a huge lr as diverged, not as an exception", async () => {
    const result = await trainer.runTrial(trial({ schedule: { type: "constant", lr: 50, warmupTokens: 0 } }));
    expect(result.status).toBe("diverged");
    expect(result.reason).toMatch(/loss/);
    expect(result.steps).toBeLessThan(40);
    expect(result.testLoss).toBeNull();
  });

  it("aborts at a step boundary, checkpoints, and resumes to exactly the uninterrupted run", async () => {
    const config = trial({
      tokens: 8 * TOKENS_PER_STEP,
      schedule: { type: "constant", lr: 1e-2, warmupTokens: 2 * TOKENS_PER_STEP },
    });
    const straight: TrialProgress[] = [];
    const full = await trainer.runTrial(config, { onProgress: (p) => straight.push(p), progressIntervalMs: 0 });

    const checkpointDir = join(dir, "resume");
    const controller = new AbortController();
    const firstHalf: TrialProgress[] = [];
    const aborted = await trainer.runTrial(config, {
      checkpointDir,
      signal: controller.signal,
      progressIntervalMs: 0,
      onProgress: (p) => {
        firstHalf.push(p);
        if (p.step === 3) controller.abort();
      },
    });
    expect(aborted.status).toBe("aborted");
    expect(aborted.checkpointSaved).toBe(true);
    expect(aborted.steps).toBe(3);
    expect(aborted.tokensSeen).toBe(3 * TOKENS_PER_STEP);
    const manifest = JSON.parse(await readFile(join(checkpointDir, CHECKPOINT_MANIFEST), "utf8"));
    expect(manifest.meta.step).toBe(3);

    const secondHalf: TrialProgress[] = [];
    const resumed = await trainer.runTrial(config, {
      checkpointDir,
      onProgress: (p) => secondHalf.push(p),
      progressIntervalMs: 0,
    });
    expect(resumed.status).toBe("succeeded");
    expect(resumed.steps).toBe(8);
    expect(secondHalf[0]?.step).toBe(4);
    // identical next-step loss (and every later one) after checkpoint → restore
    expect(secondHalf.map((p) => p.trainLoss)).toEqual(straight.slice(3).map((p) => p.trainLoss));
    expect(secondHalf.map((p) => p.lr)).toEqual(straight.slice(3).map((p) => p.lr));
    expect(firstHalf.map((p) => p.trainLoss)).toEqual(straight.slice(0, 3).map((p) => p.trainLoss));
    expect(resumed.testLoss).toBe(full.testLoss);
    expect(resumed.trainLoss).toBe(full.trainLoss);
  });

  it("refuses to resume from a checkpoint of a different trial", async () => {
    const checkpointDir = join(dir, "other-trial");
    const controller = new AbortController();
    controller.abort();
    await trainer.runTrial(trial({ tokens: 3 * TOKENS_PER_STEP }), { checkpointDir, signal: controller.signal });
    await expect(trainer.runTrial(trial({ tokens: 3 * TOKENS_PER_STEP, seed: 9 }), { checkpointDir })).rejects.toThrow(
      /different trial config/,
    );
  });

  it("checkpoints every checkpointEveryTokens", async () => {
    const checkpointDir = join(dir, "periodic");
    const result = await trainer.runTrial(trial({ tokens: 7 * TOKENS_PER_STEP }), {
      checkpointDir,
      checkpointEveryTokens: 3 * TOKENS_PER_STEP,
    });
    expect(result.status).toBe("succeeded");
    const manifest = JSON.parse(await readFile(join(checkpointDir, CHECKPOINT_MANIFEST), "utf8"));
    expect(manifest.meta.step).toBe(6); // saved after steps 3 and 6
    expect(manifest.meta.tokensSeen).toBe(6 * TOKENS_PER_STEP);
  });

  it("rejects configs it cannot train with InvalidConfigError", async () => {
    await expect(trainer.runTrial(trial({ evalTokens: 1e9 }))).rejects.toBeInstanceOf(InvalidConfigError);
    const badShape = trial();
    badShape.model = { ...badShape.model, nLayers: 0 };
    await expect(trainer.runTrial(badShape)).rejects.toThrow(InvalidConfigError);
    await expect(
      trainer.runTrial(trial({ corpus: { type: "text-files", paths: ["/nonexistent/x.txt"], testFraction: 0.5 } })),
    ).rejects.toThrow(InvalidConfigError);
  });

  it("leaves no tensors behind after a trial, an abort or a resume", async () => {
    await trainer.runTrial(trial({ tokens: 2 * TOKENS_PER_STEP }));
    const before = tf.memory().numTensors;
    await trainer.runTrial(trial({ tokens: 3 * TOKENS_PER_STEP }));
    expect(tf.memory().numTensors).toBe(before);
    const checkpointDir = join(dir, "leak");
    const controller = new AbortController();
    controller.abort();
    const aborted = await trainer.runTrial(trial({ tokens: 3 * TOKENS_PER_STEP }), {
      checkpointDir,
      signal: controller.signal,
    });
    expect(aborted.status).toBe("aborted");
    expect(aborted.steps).toBe(0);
    await trainer.runTrial(trial({ tokens: 3 * TOKENS_PER_STEP }), { checkpointDir });
    expect(tf.memory().numTensors).toBe(before);
  });
});
