// Loss-curve model on real runs (issue 16's "must show"): small tfjs trials of the demo's proxy
// (d32, 2 layers, byte-level SOTU, WSD with a 10% exponential decay) at 5 token budgets doubling
// (12.5k–200k), 8 learning rates (2^−9.6 … 2^−2.6, doubling) and 2 seeds, each with its dense curve
// (the train loss of every step and the held-out subset losses the trainer measures during the run).
// Held-out test: each learning rate's law is fitted on the runs at T = 25k, 50k, 100k and predicts
// the final test loss at T = 200k, never seen by the fit; the error is reported beside the
// seed-to-seed noise of the same runs. Validation: the same one budget down (12.5k–50k → 100k), the
// split the fit's settings were chosen on. A schedule test fits on the WSD runs and predicts cosine
// and constant-then-linear runs of the same config.
//
// The runs are stored in bench/data/curves-tfjs.json (96 runs, about 21 min of training on this
// 2-core machine), so `npm run bench -- curves` only fits them. CURVES_TRAIN=1 trains them again
// (and rewrites the file); `tsx --conditions=source bench/curves.ts --train <file> i/n [T]` trains a
// shard of the plan (n processes; optionally one T only), for merging into the file by hand.
//
// bench/lib/curves-torch-jobs.ts and bench/lib/curves-torch.py prepare and train a larger plan
// (TORCH_SETUP: d64, T = 0.5M–4M tokens) with the PyTorch reference trainer on a GPU machine; no
// GPU machine was lent when they were written, so no results of theirs are used yet.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CURVE_LAWS,
  type CurveLawName,
  estimateEtaOpt,
  fitLossCurve,
  type LossCurveFit,
  type LossCurveFitOptions,
  type ObservedCurve,
  predictEtaOpt,
  predictFinalLoss,
} from "@powersweep/fit";
import type { ScheduleSpec, TrialConfig } from "@powersweep/spec";
import { createTfjsTrainer } from "../packages/trainer/src/tfjs.ts";

export interface CurveRun {
  tokens: number;
  lr: number;
  seed: number;
  batchSize: number;
  seqLen: number;
  schedule: ScheduleSpec;
  /**
   * Every step's train loss (the loss of the batch before that step's update) and, at the trainer's
   * evaluation steps, the held-out loss after it (the subset of the test windows; the whole test
   * set at the last step).
   */
  curve: Array<{ step: number; tokens: number; lr: number; trainLoss: number; evalLoss?: number }>;
  testLoss: number | null;
  steps: number;
  wallSeconds: number;
}

export const MODEL = { name: "d32-L2", dModel: 32, nLayers: 2, nHeads: 2, dHead: 16, mlpHidden: 96, baseWidth: 32 };
export const TOKENS = [12_500, 25_000, 50_000, 100_000, 200_000];
export const LRS = [0.00125, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16];
export const SEEDS = [0, 1];
export const BATCH_SIZE = 8;
export const SEQ_LEN = 64;
const WARMUP_TOKENS = 2000;
/** The law the headline numbers use. */
const PRIMARY_LAW: CurveLawName = "multi-power";
/** The schedule-transfer runs: one seed, the second budget. */
export const TRANSFER_TOKENS = 25_000;

export const wsd = (lr: number): ScheduleSpec => ({
  type: "wsd",
  lr,
  warmupTokens: WARMUP_TOKENS,
  decayFraction: 0.1,
  decayShape: "exponential",
});
export const cosine = (lr: number): ScheduleSpec => ({
  type: "cosine",
  lr,
  warmupTokens: WARMUP_TOKENS,
  minLrRatio: 0,
});
export const constantThenLinear = (lr: number): ScheduleSpec => ({
  type: "wsd",
  lr,
  warmupTokens: WARMUP_TOKENS,
  decayFraction: 0.2,
  decayShape: "linear",
});

/**
 * The PyTorch runs (trained once on a GPU machine by bench/lib/curves-torch.py; their curves are in
 * bench/data/curves-torch.json): d64, 2 layers, seq 128, β = 16 (2,048 tokens per update), WSD with
 * a 10% exponential decay after a fixed 65,536-token warmup, T = 0.5M–4M tokens, η = 2^−11…2^−5,
 * 2 seeds; the transfer runs (cosine and WSD 20% linear) at T = 2M, both seeds.
 */
export const TORCH_SETUP = {
  model: { name: "d64-L2", dModel: 64, nLayers: 2, nHeads: 2, dHead: 32, mlpHidden: 192, baseWidth: 64 },
  batchSize: 16,
  seqLen: 128,
  evalTokens: 65_536,
  warmupTokens: 65_536,
  tokens: [524_288, 1_048_576, 2_097_152, 4_194_304],
  lrs: [-11, -10, -9, -8, -7, -6, -5].map((e) => 2 ** e),
  seeds: [0, 1],
  transferTokens: 2_097_152,
};

export function torchPlan(): Array<{
  schedule: ScheduleSpec & { lr: number; warmupTokens: number };
  tokens: number;
  seed: number;
}> {
  const warmupTokens = TORCH_SETUP.warmupTokens;
  const plan: ReturnType<typeof torchPlan> = [];
  // Largest T first: the longest runs start early on the machine's workers.
  for (const tokens of [...TORCH_SETUP.tokens].reverse())
    for (const lr of TORCH_SETUP.lrs)
      for (const seed of TORCH_SETUP.seeds)
        plan.push({
          schedule: { type: "wsd", lr, warmupTokens, decayFraction: 0.1, decayShape: "exponential" },
          tokens,
          seed,
        });
  for (const lr of TORCH_SETUP.lrs)
    for (const seed of TORCH_SETUP.seeds) {
      plan.push({
        schedule: { type: "cosine", lr, warmupTokens, minLrRatio: 0 },
        tokens: TORCH_SETUP.transferTokens,
        seed,
      });
      plan.push({
        schedule: { type: "wsd", lr, warmupTokens, decayFraction: 0.2, decayShape: "linear" },
        tokens: TORCH_SETUP.transferTokens,
        seed,
      });
    }
  return plan;
}

function trialConfig(schedule: ScheduleSpec, tokens: number, seed: number): TrialConfig {
  return {
    model: MODEL,
    mup: { embMultiplier: 10, residualMultiplier: 1, initStd: 0.02 },
    schedule,
    tokens,
    batchSize: BATCH_SIZE,
    seqLen: SEQ_LEN,
    corpus: { type: "sotu" },
    tokenizer: { type: "byte" },
    optimizer: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
    evalTokens: 16_384,
    seed,
  };
}

/** Learning rates from the middle of the grid outwards (a partial training keeps the informative ones). */
const lrsCentreOut = () =>
  [...LRS].sort((a, b) => Math.abs(Math.log(a / 0.01)) - Math.abs(Math.log(b / 0.01)) || a - b);

/** The plan: per lr (centre out) its WSD grid, then the transfer runs. */
export function runPlan(): Array<{ schedule: ScheduleSpec; tokens: number; seed: number }> {
  const plan: Array<{ schedule: ScheduleSpec; tokens: number; seed: number }> = [];
  for (const lr of lrsCentreOut())
    for (const tokens of TOKENS) for (const seed of SEEDS) plan.push({ schedule: wsd(lr), tokens, seed });
  for (const lr of lrsCentreOut()) {
    plan.push({ schedule: cosine(lr), tokens: TRANSFER_TOKENS, seed: 0 });
    plan.push({ schedule: constantThenLinear(lr), tokens: TRANSFER_TOKENS, seed: 0 });
  }
  return plan;
}

/**
 * Trains the plan's runs with the tfjs trainer (`shard` = [i, n]: every n-th lr from the i-th, so n
 * processes share the work), calling `onRun` with the runs so far after each.
 */
export async function trainRuns(
  log = (s: string) => console.log(s),
  opts: { shard?: [number, number]; tokens?: number; onRun?: (runs: CurveRun[]) => void } = {},
): Promise<CurveRun[]> {
  const trainer = createTfjsTrainer({ gradientWorker: false });
  const runs: CurveRun[] = [];
  const [i0, n] = opts.shard ?? [0, 1];
  const mine = new Set(lrsCentreOut().filter((_, j) => j % n === i0));
  const plan = runPlan().filter(
    (p) => mine.has((p.schedule as { lr: number }).lr) && (opts.tokens === undefined || p.tokens === opts.tokens),
  );
  for (const [i, p] of plan.entries()) {
    const config = trialConfig(p.schedule, p.tokens, p.seed);
    const curve: CurveRun["curve"] = [];
    const result = await trainer.runTrial(config, {
      progressIntervalMs: 0,
      onProgress: (q) => {
        curve.push({
          step: q.step,
          tokens: q.tokens,
          lr: q.lr,
          trainLoss: q.trainLoss,
          ...(q.evalLoss !== undefined ? { evalLoss: q.evalLoss } : {}),
        });
      },
    });
    const lr = (p.schedule as { lr: number }).lr;
    runs.push({
      tokens: p.tokens,
      lr,
      seed: p.seed,
      batchSize: BATCH_SIZE,
      seqLen: SEQ_LEN,
      schedule: p.schedule,
      curve,
      testLoss: result.status === "succeeded" ? result.testLoss : null,
      steps: result.steps,
      wallSeconds: result.wallSeconds,
    });
    opts.onRun?.(runs);
    log(
      `  ${i + 1}/${plan.length} ${p.schedule.type} T=${p.tokens} lr=${lr} seed=${p.seed}: test ${result.testLoss?.toFixed(4)} (${result.wallSeconds.toFixed(1)} s)`,
    );
  }
  return runs;
}

/** The stored runs (trained once with `--train`; see the header). */
export const RUNS_FILE = join(import.meta.dirname, "data", "curves-tfjs.json");

/** Rounds what a run stores (the file lives in the repo): losses to 1e-5 nats, lrs to 6 digits. */
function compact(runs: CurveRun[]): CurveRun[] {
  const r5 = (x: number) => Math.round(x * 1e5) / 1e5;
  return runs.map((r) => ({
    ...r,
    testLoss: r.testLoss === null ? null : r5(r.testLoss),
    wallSeconds: Math.round(r.wallSeconds * 10) / 10,
    curve: r.curve.map((p) => ({
      ...p,
      lr: Number(p.lr.toPrecision(6)),
      trainLoss: r5(p.trainLoss),
      ...(p.evalLoss !== undefined ? { evalLoss: r5(p.evalLoss) } : {}),
    })),
  }));
}

/** The runs: bench/data/curves-tfjs.json, or trained here (and stored there) when CURVES_TRAIN=1 or it is missing. */
export async function loadOrTrainRuns(): Promise<{ runs: CurveRun[]; trained: boolean; trainSeconds: number }> {
  if (process.env.CURVES_TRAIN !== "1" && existsSync(RUNS_FILE))
    return { runs: JSON.parse(readFileSync(RUNS_FILE, "utf8")) as CurveRun[], trained: false, trainSeconds: 0 };
  const started = performance.now();
  const runs = compact(await trainRuns());
  writeFileSync(RUNS_FILE, `${JSON.stringify(runs)}\n`);
  return { runs, trained: true, trainSeconds: (performance.now() - started) / 1000 };
}

/**
 * A stored run as the loss-curve fit reads it: every train-loss step, the held-out subset losses the
 * trainer measured during the run (`eval`, unless `evalPoints` is false) and the final test loss.
 */
export function observedCurve(r: CurveRun, opts: { evalPoints?: boolean } = {}): ObservedCurve {
  const evalPoints = opts.evalPoints ?? true;
  return {
    schedule: r.schedule,
    tokens: r.tokens,
    batchSize: r.batchSize,
    seqLen: r.seqLen,
    points: [
      ...r.curve.map((p) => ({ step: p.step, loss: p.trainLoss, split: "train" as const })),
      ...(evalPoints
        ? r.curve.flatMap((p) =>
            p.evalLoss !== undefined && p.step < r.steps
              ? [{ step: p.step, loss: p.evalLoss, split: "eval" as const }]
              : [],
          )
        : []),
      ...(r.testLoss !== null ? [{ step: r.steps, loss: r.testLoss, split: "test" as const }] : []),
    ],
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const isWsdGrid = (r: CurveRun) => r.schedule.type === "wsd" && r.schedule.decayShape === "exponential";
const SHAPE = { batchSize: BATCH_SIZE, seqLen: SEQ_LEN };

interface Extrapolation {
  /** Fitted on the runs at these T, predicting the final test loss at `target` for every lr. */
  fitTokens: number[];
  target: number;
  maeNats: number;
  etaOptErrorLog2: number;
  predictedEtaOpt: number;
  observedEtaOpt: number;
  perLr: Array<{ lr: number; predicted: number; ci95: [number, number] | null; observed: number[] }>;
}

/**
 * Fit each lr group on the WSD runs at `fitTokens` (their curves: train losses, the held-out subset
 * losses during the run, the final test losses), predict the final test loss at `target`, and
 * compare with the runs at `target` (never seen by the fit): MAE over every run, and η_opt from the
 * predictions against η_opt of the observed losses (the tables' estimator on both).
 */
export function extrapolate(
  runs: CurveRun[],
  law: CurveLawName,
  fitTokens: number[],
  target: number,
  opts: LossCurveFitOptions = {},
): Extrapolation {
  const groups: Array<{ lr: number; fit: LossCurveFit }> = [];
  const perLr: Extrapolation["perLr"] = [];
  const errors: number[] = [];
  for (const lr of LRS) {
    const grid = runs.filter((r) => r.lr === lr && isWsdGrid(r) && r.testLoss !== null);
    const observed = grid.filter((r) => r.tokens === target).map((r) => r.testLoss as number);
    const fitRuns = grid.filter((r) => fitTokens.includes(r.tokens));
    if (observed.length === 0 || fitRuns.length === 0) continue;
    const fit = fitLossCurve(
      fitRuns.map((r) => observedCurve(r)),
      { law, ...opts },
    );
    groups.push({ lr, fit });
    const pred = predictFinalLoss(fit, { schedule: wsd(lr), tokens: target, ...SHAPE });
    for (const o of observed) errors.push(Math.abs((pred.testLoss as number) - o));
    perLr.push({ lr, predicted: pred.testLoss as number, ci95: pred.ci95, observed });
  }
  const predictedEtaOpt = predictEtaOpt(groups, { tokens: target, ...SHAPE, scheduleFor: wsd }).estimate.etaOpt;
  const observedEtaOpt = estimateEtaOpt(
    runs
      .filter((r) => isWsdGrid(r) && r.tokens === target && r.testLoss !== null)
      .map((r) => ({ lr: r.lr, testLoss: r.testLoss as number, seed: r.seed })),
  ).etaOpt;
  return {
    fitTokens,
    target,
    maeNats: mean(errors),
    etaOptErrorLog2: Math.abs(Math.log2(predictedEtaOpt / observedEtaOpt)),
    predictedEtaOpt,
    observedEtaOpt,
    perLr,
  };
}

interface LawReport {
  heldOut: Extrapolation;
  /** The same test one budget down (fit on the two smallest T, predict the third): what the method was tuned on. */
  validation: Extrapolation;
  scheduleTransferMaeNats: number;
  transfer: Array<{ lr: number; schedule: string; predicted: number; observed: number }>;
  fitSeconds: number;
}

/** Held-out, validation and schedule-transfer errors of one law on the runs. */
export function evaluateLaw(runs: CurveRun[], law: CurveLawName, opts: LossCurveFitOptions = {}): LawReport {
  const started = performance.now();
  const sorted = [...TOKENS].sort((a, b) => a - b);
  const heldOut = extrapolate(runs, law, sorted.slice(0, -1), sorted.at(-1) as number, opts);
  const validation = extrapolate(runs, law, sorted.slice(0, -2), sorted.at(-2) as number, opts);
  // Schedule transfer: fit on the WSD runs of an lr up to twice the transfer runs' T (longer ones
  // would move the fitted range, a quarter of the longest run onwards, past them), predict its
  // cosine and constant-then-linear runs.
  const transfer: LawReport["transfer"] = [];
  for (const lr of LRS) {
    const others = runs.filter((q) => q.lr === lr && !isWsdGrid(q) && q.testLoss !== null);
    const grid = runs.filter(
      (r) => r.lr === lr && isWsdGrid(r) && r.testLoss !== null && r.tokens <= 2 * TRANSFER_TOKENS,
    );
    if (others.length === 0 || grid.length === 0) continue;
    const fitAll = fitLossCurve(
      grid.map((r) => observedCurve(r)),
      { law, ...opts },
    );
    for (const r of others) {
      const p = predictFinalLoss(fitAll, { schedule: r.schedule, tokens: r.tokens, ...SHAPE });
      transfer.push({
        lr,
        schedule: r.schedule.type === "cosine" ? "cosine" : "constant-then-linear",
        predicted: p.testLoss as number,
        observed: r.testLoss as number,
      });
    }
  }
  return {
    heldOut,
    validation,
    scheduleTransferMaeNats: mean(transfer.map((t) => Math.abs(t.predicted - t.observed))),
    transfer,
    fitSeconds: (performance.now() - started) / 1000,
  };
}

/**
 * Run-to-run noise of the same runs: the mean |seed 0 − seed 1| of the final test loss at a T (how
 * far one run is from its twin: the error of a perfect "predict it from another run").
 */
export function seedNoise(runs: CurveRun[], tokens: number[]): number {
  return mean(
    LRS.flatMap((lr) =>
      tokens.flatMap((t) => {
        const ls = runs
          .filter((r) => isWsdGrid(r) && r.lr === lr && r.tokens === t && r.testLoss !== null)
          .map((r) => r.testLoss as number);
        return ls.length === 2 ? [Math.abs((ls[0] as number) - (ls[1] as number))] : [];
      }),
    ),
  );
}

/**
 * The naive prediction the laws must beat: the largest T's final test loss taken to be the seed-mean
 * test loss at the next smaller T. Its MAE over the same held-out runs.
 */
export function lastTBaselineMae(runs: CurveRun[]): number {
  const sorted = [...TOKENS].sort((a, b) => a - b);
  const [previous, largest] = sorted.slice(-2) as [number, number];
  const testLosses = (lr: number, t: number) =>
    runs
      .filter((r) => isWsdGrid(r) && r.lr === lr && r.tokens === t && r.testLoss !== null)
      .map((r) => r.testLoss as number);
  return mean(
    LRS.flatMap((lr) => {
      const guess = mean(testLosses(lr, previous));
      return testLosses(lr, largest).map((o) => Math.abs(guess - o));
    }),
  );
}

/** Merges `curveModel` into bench/results.json, keeping every other key. */
function writeResults(curveModel: Record<string, unknown>): void {
  const file = join(import.meta.dirname, "results.json");
  const current = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>) : {};
  writeFileSync(file, `${JSON.stringify({ ...current, curveModel }, null, 2)}\n`);
}

export async function run(): Promise<Record<string, unknown>> {
  const { runs, trained, trainSeconds } = await loadOrTrainRuns();
  const largest = Math.max(...TOKENS);
  const laws = Object.fromEntries(CURVE_LAWS.map((law) => [law, evaluateLaw(runs, law)])) as Record<
    CurveLawName,
    LawReport
  >;
  const primary = laws[PRIMARY_LAW];
  const noise = seedNoise(runs, [largest]);
  const curveModel = {
    law: PRIMARY_LAW,
    heldOutMaeNats: primary.heldOut.maeNats,
    seedNoiseNats: noise,
    etaOptErrorLog2: primary.heldOut.etaOptErrorLog2,
    runsUsed: runs.filter(isWsdGrid).length,
    scheduleTransferMaeNats: primary.scheduleTransferMaeNats,
    validationMaeNats: primary.validation.maeNats,
    validationSeedNoiseNats: seedNoise(runs, [primary.validation.target]),
    seedNoiseAllTNats: seedNoise(runs, TOKENS),
    baselineLastTMaeNats: lastTBaselineMae(runs),
    targets: {
      maeWithin1_5xNoise: primary.heldOut.maeNats <= 1.5 * noise,
      maeWithin0_05: primary.heldOut.maeNats <= 0.05,
      etaOptWithin1Log2: primary.heldOut.etaOptErrorLog2 <= 1,
    },
    transferRunsUsed: runs.filter((r) => !isWsdGrid(r)).length,
    setup: {
      trainer: "tfjs (CPU)",
      model: MODEL.name,
      tokens: TOKENS,
      lrs: LRS,
      seeds: SEEDS,
      batchSize: BATCH_SIZE,
      seqLen: SEQ_LEN,
      schedule: `wsd, 10% exponential decay, ${WARMUP_TOKENS} warmup tokens`,
      heldOut: `fit on T < ${largest}, predict the final test loss at T = ${largest}`,
      validation: "fit on the two smallest T, predict the third (the split the method was chosen on)",
      transfer: `fit on the WSD runs at T ≤ ${2 * TRANSFER_TOKENS} per lr, predict cosine and WSD 20% linear at T = ${TRANSFER_TOKENS} (seed 0)`,
      runs: trained ? "trained in this run (stored in bench/data/curves-tfjs.json)" : "bench/data/curves-tfjs.json",
    },
    laws,
    trainSeconds,
  };
  writeResults(curveModel);
  return curveModel;
}

if (import.meta.url === `file://${process.argv[1]}` && process.argv[2] !== "--train")
  run().then((r) => console.log(JSON.stringify(r, null, 2)));

// `tsx --conditions=source bench/curves.ts --train <file> [i/n]`: train (a shard of) the plan into <file>
// (n processes with i = 0…n−1 share the work; merge their files into bench/data/curves-tfjs.json).
if (process.argv[2] === "--train") {
  const file = process.argv[3] as string;
  const [i, n] = (process.argv[4] ?? "0/1").split("/").map(Number) as [number, number];
  const tokens = process.argv[5] ? Number(process.argv[5]) : undefined;
  trainRuns(undefined, { shard: [i, n], tokens, onRun: (runs) => writeFileSync(file, JSON.stringify(compact(runs))) });
}
