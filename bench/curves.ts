// Loss-curve model on real runs (issue 16's "must show"): small tfjs trials of the demo's proxy
// (d32, 2 layers, byte-level SOTU, WSD with a 10% exponential decay) at 4 token budgets doubling,
// 6 learning rates and 2 seeds, each with its dense train-loss curve (every step). The model is
// fitted on the three smaller T per learning rate and predicts the final test loss at the largest T;
// the error is reported beside the seed-to-seed noise of the same runs. A schedule test fits on the
// WSD runs and predicts cosine and constant-then-linear runs of the same config.
//
// CURVES_RUNS_FILE=<path>: reuse the runs stored there (written on the first run) instead of
// training again — for developing the model, never for the reported numbers.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CURVE_LAWS,
  type CurveLawName,
  estimateEtaOpt,
  fitLossCurve,
  type LossCurveFit,
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
  /** Every step's train loss (the loss of the batch before that step's update). */
  curve: Array<{ step: number; tokens: number; lr: number; trainLoss: number }>;
  testLoss: number | null;
  steps: number;
  wallSeconds: number;
}

export const MODEL = { name: "d32-L2", dModel: 32, nLayers: 2, nHeads: 2, dHead: 16, mlpHidden: 96, baseWidth: 32 };
export const TOKENS = [12_500, 25_000, 50_000, 100_000];
export const LRS = [0.0025, 0.005, 0.01, 0.02, 0.04, 0.08];
export const SEEDS = [0, 1];
export const BATCH_SIZE = 8;
export const SEQ_LEN = 64;
const WARMUP_TOKENS = 2000;
/** The schedule-transfer runs: one seed, the middle budget. */
export const TRANSFER_TOKENS = 50_000;

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

/** The plan: the WSD grid, then the transfer runs. */
export function runPlan(): Array<{ schedule: ScheduleSpec; tokens: number; seed: number }> {
  const plan: Array<{ schedule: ScheduleSpec; tokens: number; seed: number }> = [];
  for (const lr of LRS)
    for (const tokens of TOKENS) for (const seed of SEEDS) plan.push({ schedule: wsd(lr), tokens, seed });
  for (const lr of LRS) {
    plan.push({ schedule: cosine(lr), tokens: TRANSFER_TOKENS, seed: 0 });
    plan.push({ schedule: constantThenLinear(lr), tokens: TRANSFER_TOKENS, seed: 0 });
  }
  return plan;
}

export async function trainRuns(log = (s: string) => console.log(s)): Promise<CurveRun[]> {
  const trainer = createTfjsTrainer({ gradientWorker: false });
  const runs: CurveRun[] = [];
  const plan = runPlan();
  for (const [i, p] of plan.entries()) {
    const config = trialConfig(p.schedule, p.tokens, p.seed);
    const curve: CurveRun["curve"] = [];
    const result = await trainer.runTrial(config, {
      progressIntervalMs: 0,
      onProgress: (q) => {
        if (q.evalLoss === undefined) curve.push({ step: q.step, tokens: q.tokens, lr: q.lr, trainLoss: q.trainLoss });
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
    log(
      `  ${i + 1}/${plan.length} ${p.schedule.type} T=${p.tokens} lr=${lr} seed=${p.seed}: test ${result.testLoss?.toFixed(4)} (${result.wallSeconds.toFixed(1)} s)`,
    );
  }
  return runs;
}

export async function loadOrTrainRuns(): Promise<{ runs: CurveRun[]; cached: boolean }> {
  const file = process.env.CURVES_RUNS_FILE;
  if (file && existsSync(file)) return { runs: JSON.parse(readFileSync(file, "utf8")) as CurveRun[], cached: true };
  const runs = await trainRuns();
  if (file) writeFileSync(file, JSON.stringify(runs));
  return { runs, cached: false };
}

/** A stored run as the loss-curve fit reads it: every train-loss step and the final test loss. */
export function observedCurve(r: CurveRun): ObservedCurve {
  return {
    schedule: r.schedule,
    tokens: r.tokens,
    batchSize: r.batchSize,
    seqLen: r.seqLen,
    points: [
      ...r.curve.map((p) => ({ step: p.step, loss: p.trainLoss, split: "train" as const })),
      ...(r.testLoss !== null ? [{ step: r.steps, loss: r.testLoss, split: "test" as const }] : []),
    ],
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const isWsdGrid = (r: CurveRun) => r.schedule.type === "wsd" && r.schedule.decayShape === "exponential";

interface LawReport {
  heldOutMaeNats: number;
  etaOptErrorLog2: number;
  predictedEtaOpt: number;
  scheduleTransferMaeNats: number;
  perLr: Array<{ lr: number; predicted: number; ci95: [number, number] | null; observed: number[] }>;
  transfer: Array<{ lr: number; schedule: string; predicted: number; observed: number }>;
  fitSeconds: number;
}

/** Held-out and schedule-transfer errors of one law on the runs. */
export function evaluateLaw(runs: CurveRun[], law: CurveLawName): LawReport {
  const started = performance.now();
  const largest = Math.max(...TOKENS);
  const shape = { batchSize: BATCH_SIZE, seqLen: SEQ_LEN };
  const groups: Array<{ lr: number; fit: LossCurveFit }> = [];
  const perLr: LawReport["perLr"] = [];
  const transfer: LawReport["transfer"] = [];
  const errors: number[] = [];
  for (const lr of LRS) {
    const grid = runs.filter((r) => r.lr === lr && isWsdGrid(r) && r.testLoss !== null);
    // Held out: fit on the three smaller T, predict the final test loss at the largest.
    const fit = fitLossCurve(grid.filter((r) => r.tokens < largest).map(observedCurve), { law });
    groups.push({ lr, fit });
    const pred = predictFinalLoss(fit, { schedule: wsd(lr), tokens: largest, ...shape });
    const observed = grid.filter((r) => r.tokens === largest).map((r) => r.testLoss as number);
    for (const o of observed) errors.push(Math.abs((pred.testLoss as number) - o));
    perLr.push({ lr, predicted: pred.testLoss as number, ci95: pred.ci95, observed });
    // Schedule transfer: fit on all WSD runs of this lr, predict cosine and constant-then-linear.
    const fitAll = fitLossCurve(grid.map(observedCurve), { law });
    for (const r of runs.filter((q) => q.lr === lr && !isWsdGrid(q) && q.testLoss !== null)) {
      const p = predictFinalLoss(fitAll, { schedule: r.schedule, tokens: r.tokens, ...shape });
      transfer.push({
        lr,
        schedule: r.schedule.type === "cosine" ? "cosine" : "constant-then-linear",
        predicted: p.testLoss as number,
        observed: r.testLoss as number,
      });
    }
  }
  const predictedEtaOpt = predictEtaOpt(groups, { tokens: largest, ...shape, scheduleFor: wsd }).estimate.etaOpt;
  const observedEtaOpt = estimateEtaOpt(
    runs
      .filter((r) => isWsdGrid(r) && r.tokens === largest && r.testLoss !== null)
      .map((r) => ({ lr: r.lr, testLoss: r.testLoss as number, seed: r.seed })),
  ).etaOpt;
  return {
    heldOutMaeNats: mean(errors),
    etaOptErrorLog2: Math.abs(Math.log2(predictedEtaOpt / observedEtaOpt)),
    predictedEtaOpt,
    scheduleTransferMaeNats: mean(transfer.map((t) => Math.abs(t.predicted - t.observed))),
    perLr,
    transfer,
    fitSeconds: (performance.now() - started) / 1000,
  };
}

/**
 * Run-to-run noise of the same runs: the mean |seed 0 − seed 1| of the final test loss at the
 * largest T (how far one run is from its twin: the error of a perfect "predict it from another
 * run"), and the same over every T of the WSD grid.
 */
export function seedNoise(runs: CurveRun[]): { largestT: number; allT: number } {
  const pairs = (tokens: number[]) =>
    LRS.flatMap((lr) =>
      tokens.flatMap((t) => {
        const ls = runs
          .filter((r) => isWsdGrid(r) && r.lr === lr && r.tokens === t && r.testLoss !== null)
          .map((r) => r.testLoss as number);
        return ls.length === 2 ? [Math.abs((ls[0] as number) - (ls[1] as number))] : [];
      }),
    );
  return { largestT: mean(pairs([Math.max(...TOKENS)])), allT: mean(pairs(TOKENS)) };
}

/**
 * The naive prediction the laws must beat: the largest T's final test loss taken to be the seed-mean
 * test loss at the next smaller T (what one would guess without a curve model). Its MAE over the same
 * held-out runs.
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
  const trainStarted = performance.now();
  const { runs, cached } = await loadOrTrainRuns();
  const trainSeconds = (performance.now() - trainStarted) / 1000;
  const noise = seedNoise(runs);
  const laws = Object.fromEntries(CURVE_LAWS.map((law) => [law, evaluateLaw(runs, law)])) as Record<
    CurveLawName,
    LawReport
  >;
  const primary = laws["multi-power"];
  const curveModel = {
    law: "multi-power",
    heldOutMaeNats: primary.heldOutMaeNats,
    seedNoiseNats: noise.largestT,
    etaOptErrorLog2: primary.etaOptErrorLog2,
    runsUsed: runs.filter(isWsdGrid).length,
    scheduleTransferMaeNats: primary.scheduleTransferMaeNats,
    seedNoiseAllTNats: noise.allT,
    baselineLastTMaeNats: lastTBaselineMae(runs),
    targets: {
      maeWithin1_5xNoise: primary.heldOutMaeNats <= 1.5 * noise.largestT,
      maeWithin0_05: primary.heldOutMaeNats <= 0.05,
      etaOptWithin1Log2: primary.etaOptErrorLog2 <= 1,
    },
    transferRunsUsed: runs.filter((r) => !isWsdGrid(r)).length,
    setup: {
      model: MODEL.name,
      tokens: TOKENS,
      lrs: LRS,
      seeds: SEEDS,
      batchSize: BATCH_SIZE,
      seqLen: SEQ_LEN,
      schedule: "wsd, 10% exponential decay, 2000 warmup tokens",
      heldOut: `fit on T < ${Math.max(...TOKENS)}, predict the final test loss at T = ${Math.max(...TOKENS)}`,
      transfer: `fit on all WSD runs per lr, predict cosine and WSD 20% linear at T = ${TRANSFER_TOKENS} (seed 0)`,
    },
    laws,
    trainSeconds,
    cachedRuns: cached,
  };
  if (!cached) writeResults(curveModel);
  return curveModel;
}

if (import.meta.url === `file://${process.argv[1]}`) run().then((r) => console.log(JSON.stringify(r, null, 2)));
