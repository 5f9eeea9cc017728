// Dense curves: the point schedule (curveSteps, evalSteps) is one rule in TypeScript and in
// python/train.py, the held-out windows are token-identical in both trainers, and a tfjs trial
// returns a curve of ≥ 100 points with held-out points at the start of the decay.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { evalBatches, evalSubset, evalWindows, loadDataset } from "@powersweep/data";
import type { ScheduleSpec, TrialConfig } from "@powersweep/spec";
import { afterAll, describe, expect, it } from "vitest";
import { CURVE_LINEAR_POINTS, CURVE_LOG_POINTS, curveSteps, decayStartStep, evalSteps } from "../src/curve.ts";
import { execEvalWindows, referenceTorchCommand } from "../src/exec.ts";
import { prepareExecData } from "../src/exec-data.ts";
import { createTfjsTrainer } from "../src/tfjs.ts";

const [python, trainPy] = referenceTorchCommand() as [string, string];
const pythonProbe = spawnSync(python, ["-c", "import json"], { encoding: "utf8" });
const pythonMissing = pythonProbe.status === 0 ? null : `${python} does not run`;
const torchProbe = spawnSync(python, ["-c", "import torch"], { encoding: "utf8" });
const torchMissing = torchProbe.status === 0 ? null : `${python} cannot import torch`;
if (pythonMissing) console.warn(`SKIPPING python curve-schedule comparison: ${pythonMissing}`);
if (torchMissing) console.warn(`SKIPPING python eval-window comparison: ${torchMissing}`);

const dir = mkdtempSync(join(tmpdir(), "curve-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runPython(flag: string, input: unknown): unknown {
  const r = spawnSync(python, [trainPy, flag], { input: JSON.stringify(input), encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`train.py ${flag} failed: ${r.stderr}`);
  const line = JSON.parse(r.stdout.trim().split("\n").at(-1) as string);
  if (line.type === "error") throw new Error(line.message);
  return line;
}

const WSD: ScheduleSpec = { type: "wsd", lr: 0.01, warmupTokens: 0, decayFraction: 0.1, decayShape: "exponential" };

describe("curveSteps and evalSteps (which steps a trial records)", () => {
  it("records every step of a short run", () => {
    expect(curveSteps(0)).toEqual([]);
    expect(curveSteps(98)).toEqual(Array.from({ length: 98 }, (_, i) => i + 1));
    const max = CURVE_LINEAR_POINTS + CURVE_LOG_POINTS;
    expect(curveSteps(max)).toHaveLength(max);
  });

  it("long runs: ≥ 100 points, log-spaced early, evenly spaced later, capped, ending on the last step", () => {
    for (const S of [257, 391, 1000, 12_345, 1e6, 1e9]) {
      const steps = curveSteps(S);
      expect(steps.length, `S=${S}`).toBeGreaterThanOrEqual(100);
      expect(steps.length, `S=${S}`).toBeLessThanOrEqual(CURVE_LINEAR_POINTS + CURVE_LOG_POINTS + 1);
      expect(steps.at(-1)).toBe(S);
      expect(new Set(steps).size).toBe(steps.length);
      expect([...steps].sort((a, b) => a - b)).toEqual(steps);
      expect(steps.slice(0, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]); // the steepest part of the curve, every step
      // later: the evenly spaced stride, so the decay at the end is as dense as the middle
      const stride = Math.ceil(S / CURVE_LINEAR_POINTS);
      const late = steps.filter((s) => s > S / 2);
      const gaps = late.slice(1).map((s, i) => s - (late[i] as number));
      expect(Math.max(...gaps)).toBeLessThanOrEqual(stride);
      expect(late.length).toBeGreaterThanOrEqual(Math.floor(S / stride / 2) - 1);
    }
  });

  it("evaluates ≥ 5 times, once at the start of the decay (after the last stable step)", () => {
    const tokensPerStep = 8 * 64;
    const S = Math.ceil(200_000 / tokensPerStep); // 391
    const decay = decayStartStep(WSD, 200_000, tokensPerStep) as number;
    expect(decay).toBe(352); // 180,000 tokens of stable phase: step 352 starts at 179,712 tokens
    const steps = evalSteps(S, decay);
    expect(steps).toEqual([79, 157, 235, 313, 352, 391]);
    expect(decayStartStep({ type: "constant", lr: 0.01, warmupTokens: 0 }, 200_000, tokensPerStep)).toBeNull();
    expect(evalSteps(S, null)).toHaveLength(5);
  });

  it.skipIf(pythonMissing !== null)("python/train.py picks the same steps", () => {
    const cases = [1, 7, 98, 256, 257, 391, 1000, 4097, 12_345, 99_999, 1e6, 123_456_789].map((S) => ({
      totalSteps: S,
      decayStartStep: Math.floor(S * 0.9) + 1,
    }));
    const schedules: Array<[ScheduleSpec, number, number]> = [
      [WSD, 200_000, 512],
      [{ ...WSD, decayFraction: 0.2 }, 25_000, 256],
      [{ ...WSD, decayFraction: 0.37 }, 1e9, 4096 * 128],
      [
        {
          type: "power",
          powerA: 4,
          powerB: -0.51,
          etaMax: 0.02,
          warmupTokens: 0,
          decayFraction: 0.1,
          decayShape: "exponential",
        },
        40_000,
        256,
      ],
      [{ type: "cosine", lr: 0.01, warmupTokens: 0, minLrRatio: 0 }, 1e5, 512],
    ];
    const out = runPython("--print-curve-steps", {
      cases: [
        ...cases,
        ...schedules.map(([schedule, tokens, tokensPerStep]) => ({ totalSteps: 10, schedule, tokens, tokensPerStep })),
      ],
    }) as { cases: Array<{ curveSteps: number[]; evalSteps: number[]; decayStartStep: number | null }> };
    cases.forEach((c, i) => {
      expect(out.cases[i]?.curveSteps, `S=${c.totalSteps}`).toEqual(curveSteps(c.totalSteps));
      expect(out.cases[i]?.evalSteps, `S=${c.totalSteps}`).toEqual(evalSteps(c.totalSteps, c.decayStartStep));
    });
    schedules.forEach(([schedule, tokens, tokensPerStep], i) => {
      expect(out.cases[cases.length + i]?.decayStartStep).toEqual(decayStartStep(schedule, tokens, tokensPerStep));
    });
  });
});

function agreementConfig(overrides: Partial<TrialConfig> = {}): TrialConfig {
  return {
    model: { name: "d32-L1", dModel: 32, nLayers: 1, nHeads: 2, dHead: 16, mlpHidden: 64, baseWidth: 32 },
    mup: { embMultiplier: 1, residualMultiplier: 1, initStd: 0.05 },
    schedule: WSD,
    tokens: 300 * 8 * 32,
    batchSize: 8,
    seqLen: 32,
    corpus: { type: "sotu" },
    tokenizer: { type: "byte" },
    optimizer: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
    evalTokens: 4000,
    seed: 1,
    ...overrides,
  };
}

describe.skipIf(torchMissing !== null)("held-out windows: tfjs and python/train.py", { timeout: 120_000 }, () => {
  it("evaluate the same tokens (the subset during training, then the rest), spread over the held-out text", async () => {
    const config = agreementConfig({ evalTokens: 16_384, seqLen: 64 });
    const data = await prepareExecData(config, join(dir, "cache"));
    const windows = await execEvalWindows(config, data);
    const dataset = await loadDataset({ corpus: config.corpus });
    const ts = evalWindows(dataset.test.length, { evalTokens: config.evalTokens, seqLen: config.seqLen });
    expect(windows).toEqual(ts.map((w) => [w.start, w.targets])); // what the exec job sends
    // the windows span the held-out stream, not its first evalTokens
    expect(ts[0]?.start).toBe(0);
    expect((ts.at(-1)?.start as number) + (ts.at(-1)?.targets as number)).toBe(dataset.test.length - 1);
    const subset = evalSubset(ts);
    const inSubset = new Set(subset);
    const counted = (windows: typeof ts) => {
      const inputs: number[] = [];
      const targets: number[] = [];
      for (const b of evalBatches(dataset.test, { ...config, windows })) {
        b.mask.forEach((m, i) => {
          if (m === 1) {
            inputs.push(b.inputs[i] as number);
            targets.push(b.targets[i] as number);
          }
        });
      }
      return { inputs, targets };
    };
    const py = runPython("--print-eval-set", { config, data, evalWindows: windows }) as Record<string, unknown>;
    expect(py.subset).toEqual(counted(subset));
    expect(py.rest).toEqual(counted(ts.filter((w) => !inSubset.has(w))));
  });
});

describe("tfjs trainer curve", { timeout: 300_000 }, () => {
  it("returns ≥ 100 train points with the real schedule and ≥ 5 held-out points including the decay's start", async () => {
    const config = agreementConfig();
    const trainer = createTfjsTrainer({ backend: "wasm", gradientWorker: false });
    const result = await trainer.runTrial(config);
    expect(result.status).toBe("succeeded");
    const curve = result.curve;
    if (!curve) throw new Error("no curve");
    expect(curve.step).toEqual(curveSteps(300));
    expect(curve.step.length).toBeGreaterThanOrEqual(100);
    expect(curve.tokens).toEqual(curve.step.map((s) => s * 256));
    // the WSD shape: flat at η until the decay, then falling to ~0 (not a triangle of 3 points)
    const decay = decayStartStep(config.schedule, config.tokens, 256) as number;
    curve.step.forEach((s, i) => {
      if (s <= decay) expect(curve.lr[i]).toBe(0.01);
      else expect(curve.lr[i]).toBeLessThan(0.01);
    });
    expect(curve.lr.at(-1)).toBeLessThan(0.0005);
    expect((curve.trainLoss.at(-1) as number) < (curve.trainLoss[0] as number) - 1).toBe(true);
    expect(curve.eval.step).toEqual(evalSteps(300, decay));
    expect(curve.eval.step).toContain(decay);
    expect(curve.eval.step.length).toBeGreaterThanOrEqual(5);
    const subsetTargets = evalSubset(
      evalWindows((await loadDataset({ corpus: config.corpus })).test.length, config),
    ).reduce((n, w) => n + w.targets, 0);
    expect(curve.eval.targets).toBe(subsetTargets);
    // held-out loss falls through the run; the last point is the subset at the end, close to the test loss
    expect(curve.eval.loss.at(-1) as number).toBeLessThan(curve.eval.loss[0] as number);
    expect(Math.abs((curve.eval.loss.at(-1) as number) - (result.testLoss as number))).toBeLessThan(0.15);
  });
});
