// The reference PyTorch trainer (python/train.py) end to end through the exec backend.
// Skipped, with the reason printed, only when the configured python cannot `import torch` (the
// OpenBLAS settings at the end need python alone).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ScheduleSpec, TrialConfig } from "@powersweep/spec";
import { afterAll, describe, expect, it } from "vitest";
import { createExecTrainer, referenceTorchCommand } from "../src/exec.ts";
import { InvalidConfigError, type TrialProgress, type TrialResult } from "../src/types.ts";

const [python, trainPy] = referenceTorchCommand() as [string, string];
const probe = spawnSync(python, ["-c", "import torch"], { encoding: "utf8" });
const torchMissing =
  probe.status === 0
    ? null
    : `${python} cannot import torch (${(probe.error?.message ?? probe.stderr).trim().split("\n").at(-1)})`;
if (torchMissing) console.warn(`SKIPPING reference torch trainer tests: ${torchMissing}`);

const dir = mkdtempSync(join(tmpdir(), "exec-torch-"));
process.env.DATA_ROOTS = dir; // token files are read only inside the data roots
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const LN_256 = Math.log(256);

const trainer = createExecTrainer({
  name: "torch",
  command: referenceTorchCommand(),
  dataCacheDir: join(dir, "data-cache"),
  graceMs: 20_000,
  // tiny models gain nothing from a second thread, and spinning threads suffer most on a busy CI box
  env: { POWERSWEEP_TORCH_THREADS: "1" },
});

/** A tiny μP model on the SOTU corpus: 8 × 32 = 256 tokens per step. */
function tinyConfig(overrides: Partial<TrialConfig> = {}): TrialConfig {
  return {
    model: { name: "d32-L1", dModel: 32, nLayers: 1, nHeads: 2, dHead: 16, mlpHidden: 64, baseWidth: 32 },
    mup: { embMultiplier: 1, residualMultiplier: 1, initStd: 0.02 },
    schedule: { type: "constant", lr: 0.01, warmupTokens: 0 },
    tokens: 256 * 120,
    batchSize: 8,
    seqLen: 32,
    corpus: { type: "sotu" },
    tokenizer: { type: "byte" },
    optimizer: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
    evalTokens: 4096,
    seed: 7,
    ...overrides,
  };
}

async function runAll(config: TrialConfig, options: Parameters<typeof trainer.runTrial>[1] = {}) {
  const progress: TrialProgress[] = [];
  const result = await trainer.runTrial(config, {
    progressIntervalMs: 0,
    ...options,
    onProgress: (p) => {
      progress.push(p);
      options.onProgress?.(p);
    },
  });
  return { result, progress };
}

describe.skipIf(torchMissing !== null)("reference torch trainer (python/train.py)", { timeout: 120_000 }, () => {
  it("trains a tiny μP GPT end to end: initial loss ≈ ln 256, held-out loss falls well below it", async () => {
    const config = tinyConfig();
    const { result, progress } = await runAll(config);
    expect(result.status).toBe("succeeded");
    expect(result.steps).toBe(120);
    expect(result.tokensSeen).toBe(120 * 256);
    const initial = progress[0]?.trainLoss ?? Number.NaN;
    expect(progress[0]?.step).toBe(1);
    expect(Math.abs(initial - LN_256)).toBeLessThan(0.05); // a fresh μP model predicts ~uniformly
    const testLoss = result.testLoss ?? Number.NaN;
    expect(testLoss).toBeLessThan(initial - 1.5); // bytes of English are far from uniform
    expect(result.testPerplexity).toBeCloseTo(Math.exp(testLoss), 6);
    expect(progress.at(-1)?.evalLoss).toBe(testLoss);
    expect(result.backend).toMatch(/^torch-/);
  });

  it("SIGTERM aborts with a checkpoint; resuming continues exactly where the uninterrupted run was", async () => {
    const config = tinyConfig({ tokens: 256 * 60, seed: 11 });
    const full = await runAll(config);
    const fullLoss = new Map(full.progress.map((p) => [p.step, p.trainLoss]));

    const checkpointDir = join(dir, "ckpt-resume");
    const controller = new AbortController();
    const first = await runAll(config, {
      checkpointDir,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step >= 20) controller.abort();
      },
    });
    expect(first.result.status).toBe("aborted");
    expect(first.result.checkpointSaved).toBe(true);
    expect(existsSync(join(checkpointDir, "torch-checkpoint.pt"))).toBe(true);
    const stoppedAt = first.result.steps;
    expect(stoppedAt).toBeGreaterThanOrEqual(20);
    expect(stoppedAt).toBeLessThan(60);
    expect(first.result.tokensSeen).toBe(stoppedAt * 256);

    const resumed = await runAll(config, { checkpointDir });
    expect(resumed.result.status).toBe("succeeded");
    expect(resumed.result.tokensSeen).toBe(60 * 256); // accumulates across the two sessions
    expect(resumed.result.steps).toBe(60);
    expect(resumed.progress[0]?.step).toBe(stoppedAt + 1);
    const expected = fullLoss.get(stoppedAt + 1) ?? Number.NaN;
    expect(Math.abs((resumed.progress[0]?.trainLoss ?? Number.NaN) - expected)).toBeLessThan(1e-5);
    expect(Math.abs((resumed.result.testLoss ?? Number.NaN) - (full.result.testLoss ?? Number.NaN))).toBeLessThan(1e-4);
  });

  it("refuses to resume a checkpoint of a different config", async () => {
    const checkpointDir = join(dir, "ckpt-periodic");
    const config = tinyConfig({ tokens: 256 * 4 });
    // checkpoints every 2 steps: the last one sits at the end of training
    const done = await runAll(config, { checkpointDir, checkpointEveryTokens: 512 });
    expect(done.result.status).toBe("succeeded");
    expect(existsSync(join(checkpointDir, "torch-checkpoint.pt"))).toBe(true);
    await expect(trainer.runTrial({ ...config, seed: 99 }, { checkpointDir })).rejects.toThrow(InvalidConfigError);
  });

  it("reports divergence at a huge learning rate as a result, not an error", async () => {
    const { result } = await runAll(
      tinyConfig({ schedule: { type: "constant", lr: 50, warmupTokens: 0 }, tokens: 256 * 60 }),
    );
    expect(result.status).toBe("diverged");
    expect(result.reason).toMatch(/loss/);
    expect(result.steps).toBeLessThan(60);
    expect(result.testLoss).toBeNull();
  });

  it("a config the trainer cannot run (evalTokens beyond the held-out tokens) is an InvalidConfigError", async () => {
    const trainPath = join(dir, "small-train.bin");
    const testPath = join(dir, "small-test.bin");
    writeFileSync(trainPath, Buffer.from(new Uint16Array(2000).map((_, i) => i % 256).buffer));
    writeFileSync(testPath, Buffer.from(new Uint16Array(100).map((_, i) => i % 256).buffer));
    const config = tinyConfig({
      corpus: { type: "token-file", trainPath, testPath, dtype: "uint16", vocabSize: 256 },
      evalTokens: 1000,
    });
    await expect(trainer.runTrial(config)).rejects.toThrow(/evalTokens 1000 exceeds/);
    await expect(trainer.runTrial(config)).rejects.toBeInstanceOf(InvalidConfigError);
  });
});

// ---- cross-checks with the TypeScript side -------------------------------------------------
const schedulesReady = existsSync(new URL("../../schedules/src/index.ts", import.meta.url));
const tfjsReady = existsSync(new URL("../src/tfjs.ts", import.meta.url)) && schedulesReady;

function pythonSchedule(schedule: ScheduleSpec, totalTokens: number, batchSize: number, tokens: number[]): number[] {
  const out = spawnSync(python, [trainPy, "--print-schedule"], {
    input: JSON.stringify({ schedule, totalTokens, batchSize, tokens }),
    encoding: "utf8",
  });
  if (out.status !== 0) throw new Error(`--print-schedule failed: ${out.stderr}`);
  return (JSON.parse(out.stdout) as { lrs: number[] }).lrs;
}

describe.skipIf(torchMissing !== null)("python schedules equal packages/schedules", () => {
  const N = 1e6;
  const tokens = [0, 1, 5e3, 9.99e4, 1e5, 1.5e5, 3e5, 5e5, 7.99e5, 8e5, 8.2e5, 8.5e5, 9e5, 9.5e5, 9.99e5, 1e6, 1.2e6];
  const shapes = ["exponential", "linear", "cosine", "one-minus-sqrt"] as const;
  const specs: ScheduleSpec[] = [
    { type: "constant", lr: 0.01, warmupTokens: 1e5 },
    { type: "constant", lr: 0.01, warmupTokens: 0 },
    { type: "cosine", lr: 0.02, warmupTokens: 1e5, minLrRatio: 0.1 },
    { type: "cosine", lr: 0.02, warmupTokens: 0, minLrRatio: 0 },
    ...shapes.map(
      (decayShape): ScheduleSpec => ({ type: "wsd", lr: 0.01, warmupTokens: 1e5, decayFraction: 0.2, decayShape }),
    ),
    ...shapes.map(
      (decayShape): ScheduleSpec => ({
        type: "power",
        powerA: 4,
        powerB: -0.51,
        etaMax: 0.02,
        warmupTokens: 1e5,
        decayFraction: 0.2,
        decayShape,
      }),
    ),
    { type: "power", powerA: 4, powerB: -0.51, etaMax: 0.02, warmupTokens: 0, decayFraction: 0, decayShape: "linear" },
  ];

  it("hand-computed points of eqs. 2, 7 and 8", () => {
    // eq. 2 (WSD, linear decay): half-way through warmup, plateau, half-way through the decay
    const wsd = pythonSchedule(
      { type: "wsd", lr: 0.01, warmupTokens: 1e5, decayFraction: 0.2, decayShape: "linear" },
      N,
      16,
      [5e4, 5e5, 9e5, N],
    );
    expect(wsd[0]).toBeCloseTo(0.005, 15);
    expect(wsd[1]).toBeCloseTo(0.01, 15);
    expect(wsd[2]).toBeCloseTo(0.005, 15);
    expect(wsd[3]).toBe(0);
    // eq. 7/8 (power): β·a·n^b below the clamp, η_max above it
    const p = pythonSchedule(
      {
        type: "power",
        powerA: 4,
        powerB: -0.51,
        etaMax: 0.02,
        warmupTokens: 0,
        decayFraction: 0.1,
        decayShape: "linear",
      },
      1e9,
      32,
      [1e3, 1e8],
    );
    expect(p[0]).toBe(0.02); // 32·4·1000^−0.51 ≈ 3.7 > η_max
    expect(p[1]).toBeCloseTo(32 * 4 * 1e8 ** -0.51, 15);
  });

  it.skipIf(!schedulesReady)("every schedule type and decay shape, at warmup/plateau/decay points", async () => {
    const { createSchedule } = await import("@powersweep/schedules");
    for (const spec of specs) {
      const ts = createSchedule(spec, { totalTokens: N, batchSize: 64 });
      const py = pythonSchedule(spec, N, 64, tokens);
      tokens.forEach((n, i) => {
        const expected = ts(n);
        const got = py[i] ?? Number.NaN;
        expect(
          Math.abs(got - expected),
          `${JSON.stringify(spec)} at n=${n}: python ${got} vs ts ${expected}`,
        ).toBeLessThanOrEqual(1e-12 * Math.max(1e-300, Math.abs(expected)));
      });
    }
  });
});

describe.skipIf(torchMissing !== null)("initial loss: python vs TensorFlow.js", { timeout: 120_000 }, () => {
  it.skipIf(!tfjsReady)("both sides start within 0.05 of ln 256 and of each other on the same config", async () => {
    const { createTrainer } = await import("../src/index.ts");
    const tfjs = await createTrainer("tfjs");
    const config = tinyConfig({ tokens: 256 * 2, evalTokens: 256 });
    const firstLoss = async (t: { runTrial: typeof trainer.runTrial }) => {
      const seen: TrialProgress[] = [];
      const result: TrialResult = await t.runTrial(config, { progressIntervalMs: 0, onProgress: (p) => seen.push(p) });
      expect(result.status).toBe("succeeded");
      return seen[0]?.trainLoss ?? Number.NaN;
    };
    const py = await firstLoss(trainer);
    const ts = await firstLoss(tfjs);
    expect(Math.abs(py - LN_256)).toBeLessThan(0.05);
    expect(Math.abs(ts - LN_256)).toBeLessThan(0.05);
    expect(Math.abs(py - ts)).toBeLessThan(0.05);
  });
});

// Needs only python (train.py imports torch inside a trial): OpenBLAS falls back to SSE3 kernels on
// a CPU model it does not know, so train.py names the kernel family from the instruction-set flags.
describe("OpenBLAS settings of the reference trainer", () => {
  const coretypeOf = (flags: string) => {
    const cpuinfo = join(dir, `cpuinfo-${flags.length}`);
    writeFileSync(cpuinfo, `processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: ${flags}\n`);
    const code = `import sys; sys.path.insert(0, sys.argv[1]); import train; print(train.openblas_coretype(sys.argv[2]))`;
    const out = spawnSync(python, ["-c", code, join(trainPy, ".."), cpuinfo], { encoding: "utf8" });
    if (out.status !== 0) throw new Error(out.stderr);
    return out.stdout.trim();
  };

  it("picks SkylakeX with AVX-512, Haswell with AVX2 + FMA, and nothing on older CPUs", () => {
    expect(coretypeOf("fpu sse4_2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl")).toBe("SkylakeX");
    expect(coretypeOf("fpu sse4_2 avx avx2 fma avx512f")).toBe("Haswell");
    expect(coretypeOf("fpu sse4_2 avx avx2 fma")).toBe("Haswell");
    expect(coretypeOf("fpu sse4_2 avx avx2")).toBe("None");
    expect(coretypeOf("fpu sse sse2 sse4_2")).toBe("None");
  });

  it("--print-openblas-env: one BLAS thread by default, and a coretype the caller set is kept", () => {
    const printed = (env: Record<string, string>) => {
      const out = spawnSync(python, [trainPy, "--print-openblas-env"], {
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "", ...env },
      });
      if (out.status !== 0) throw new Error(out.stderr);
      return JSON.parse(out.stdout) as Record<string, string>;
    };
    expect(printed({ OPENBLAS_CORETYPE: "Zen" })).toEqual({ OPENBLAS_NUM_THREADS: "1", OPENBLAS_CORETYPE: "Zen" });
    expect(printed({ OPENBLAS_NUM_THREADS: "2", OPENBLAS_CORETYPE: "Haswell" }).OPENBLAS_NUM_THREADS).toBe("2");
  });
});
