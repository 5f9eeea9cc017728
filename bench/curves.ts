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
export const cosine = (lr: number): ScheduleSpec => ({ type: "cosine", lr, warmupTokens: WARMUP_TOKENS, minLrRatio: 0 });
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

export async function run(): Promise<Record<string, unknown>> {
  const { runs, cached } = await loadOrTrainRuns();
  return { runs: runs.length, cached };
}

if (import.meta.url === `file://${process.argv[1]}`) run().then((r) => console.log(r));
void join;
