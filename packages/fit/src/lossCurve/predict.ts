// Predictions from a fitted loss-curve law: the curve and final loss of any schedule at any T (with
// a 95% interval for the expected loss, by the delta method on the fit's covariance), η_opt at a T
// that was not trained (from predicted final losses across the lr groups), and schedule advice
// (the WSD decay fraction and shape the law predicts best, against the paper's 10% exponential).
// Everything here is a prediction: results carry `predicted: true` so no table mixes them with
// measured losses unmarked.
import type { DecayShape, ScheduleSpec } from "@powersweep/spec";
import { type EtaOptEstimate, estimateEtaOpt } from "../etaOpt.ts";
import { tQuantile975 } from "../rng.ts";
import type { RunShape } from "./areas.ts";
import { type LossCurveFit, lawLoss, paramsFromTheta, prepareRun } from "./fit.ts";

export interface PredictedPoint {
  step: number;
  tokens: number;
  lr: number;
  /** Expected train loss after `step` updates. */
  loss: number;
  lower: number | null;
  upper: number | null;
}

export interface FinalLossPrediction {
  predicted: true;
  /** Expected train loss after the last update. */
  trainLoss: number;
  /** trainLoss + the fit's testOffset; null when the fit saw no test points. */
  testLoss: number | null;
  /** 95% interval of testLoss (or of trainLoss when testLoss is null); null without a covariance. */
  ci95: [number, number] | null;
}

export interface CurvePrediction {
  predicted: true;
  law: LossCurveFit["law"];
  tokens: number;
  steps: number;
  tokensPerStep: number;
  curve: PredictedPoint[];
  final: FinalLossPrediction;
}

const SCHEDULE_SHAPES: readonly DecayShape[] = ["exponential", "linear", "cosine", "one-minus-sqrt"];

/** ln(prediction) and its gradient in theta (forward differences). */
function logPredWithGrad(fit: LossCurveFit, evalAt: (theta: number[]) => number): { value: number; sd: number | null } {
  const value = evalAt(fit.theta);
  if (!fit.covariance) return { value, sd: null };
  const g = fit.theta.map((th, j) => {
    const h = 1e-6 * Math.max(1, Math.abs(th));
    const t = [...fit.theta];
    t[j] = th + h;
    return (evalAt(t) - value) / h;
  });
  let v = 0;
  const cov = fit.covariance;
  for (let a = 0; a < g.length; a++)
    for (let b = 0; b < g.length; b++) v += (g[a] as number) * ((cov[a] as number[])[b] as number) * (g[b] as number);
  return { value, sd: v >= 0 && Number.isFinite(v) ? Math.sqrt(v) : null };
}

function checkShape(fit: LossCurveFit, run: RunShape): void {
  const tps = run.batchSize * run.seqLen;
  if (tps !== fit.tokensPerStep)
    throw new RangeError(
      `the fit's areas are per update of ${fit.tokensPerStep} tokens; batchSize·seqLen = ${tps} is another unit (fit runs of that batch size)`,
    );
}

/** The law's curve for a run: `points` evenly spaced updates (default 100, at most every update) and the final loss. */
export function predictLossCurve(fit: LossCurveFit, run: RunShape, opts: { points?: number } = {}): CurvePrediction {
  checkShape(fit, run);
  const prepared = prepareRun(run, fit.law, fit.lambda ?? undefined);
  const { trace } = prepared;
  const nLaw = Object.keys(fit.params).length;
  const t = tQuantile975(Math.max(1, fit.dof));
  const logAt = (u: number, test: boolean) => (theta: number[]) => {
    const pred = lawLoss(fit.law, paramsFromTheta(fit.law, theta), prepared, u) + (test ? (theta[nLaw] ?? 0) : 0);
    return Math.log(pred);
  };
  const first = Math.max(1, trace.warmupSteps);
  const n = Math.max(2, Math.min(opts.points ?? 100, trace.steps - first + 1));
  const us = new Set<number>();
  for (let i = 0; i < n; i++) us.add(Math.round(first + ((trace.steps - first) * i) / (n - 1)));
  const curve: PredictedPoint[] = [...us]
    .sort((a, b) => a - b)
    .map((u) => {
      const { value, sd } = logPredWithGrad(fit, logAt(u, false));
      return {
        step: u,
        tokens: u * trace.tokensPerStep,
        lr: trace.lrs[u - 1] as number,
        loss: Math.exp(value),
        lower: sd === null ? null : Math.exp(value - t * sd),
        upper: sd === null ? null : Math.exp(value + t * sd),
      };
    });
  const last = curve[curve.length - 1] as PredictedPoint;
  const withTest = fit.testOffset !== null;
  const fin = withTest ? logPredWithGrad(fit, logAt(trace.steps, true)) : null;
  const final: FinalLossPrediction = {
    predicted: true,
    trainLoss: last.loss,
    testLoss: fin ? Math.exp(fin.value) : null,
    ci95: fin
      ? fin.sd === null
        ? null
        : [Math.exp(fin.value - t * fin.sd), Math.exp(fin.value + t * fin.sd)]
      : last.lower === null || last.upper === null
        ? null
        : [last.lower, last.upper],
  };
  return {
    predicted: true,
    law: fit.law,
    tokens: run.tokens,
    steps: trace.steps,
    tokensPerStep: trace.tokensPerStep,
    curve,
    final,
  };
}

/** The final loss only (test loss when the fit has a test offset, else train loss), with its interval. */
export function predictFinalLoss(fit: LossCurveFit, run: RunShape): FinalLossPrediction {
  return predictLossCurve(fit, run, { points: 2 }).final;
}

export interface PredictedEtaOpt {
  predicted: true;
  tokens: number;
  /** Per lr group: the predicted final loss (test when available). */
  points: Array<{ lr: number; loss: number; ci95: [number, number] | null }>;
  /** estimateEtaOpt over the predicted losses; its ci95 draws from the predictions' own sd. */
  estimate: EtaOptEstimate;
}

/**
 * η_opt at a T that was not trained: each lr group's fit predicts its final loss under
 * `scheduleFor(lr)` at `tokens`, and the η_opt estimator of the η_opt tables runs on those
 * predictions (marked predicted).
 */
export function predictEtaOpt(
  groups: Array<{ lr: number; fit: LossCurveFit }>,
  run: Omit<RunShape, "schedule"> & { scheduleFor: (lr: number) => ScheduleSpec },
): PredictedEtaOpt {
  if (groups.length === 0) throw new RangeError("predictEtaOpt: no lr groups");
  const points = groups
    .map((g) => {
      const f = predictFinalLoss(g.fit, { ...run, schedule: run.scheduleFor(g.lr) });
      return { lr: g.lr, loss: f.testLoss ?? f.trainLoss, ci95: f.ci95 };
    })
    .sort((a, b) => a.lr - b.lr);
  const sds = points.filter((p) => p.ci95).map((p) => ((Math.log(p.ci95![1]) - Math.log(p.ci95![0])) / 3.92) * p.loss);
  const noiseSd = sds.length ? Math.sqrt(sds.reduce((s, v) => s + v * v, 0) / sds.length) : undefined;
  const estimate = estimateEtaOpt(
    points.map((p) => ({ lr: p.lr, testLoss: p.loss })),
    noiseSd && noiseSd > 0 ? { noiseSd } : {},
  );
  return { predicted: true, tokens: run.tokens, points, estimate };
}

export interface ScheduleCandidate {
  schedule: ScheduleSpec;
  /** Predicted final train loss (the test offset does not change the ranking). */
  loss: number;
  ci95: [number, number] | null;
}

export interface ScheduleAdvice {
  predicted: true;
  tokens: number;
  best: ScheduleCandidate;
  /** The paper's WSD with a 10% exponential decay. */
  baseline: ScheduleCandidate;
  /** baseline.loss − best.loss (≥ 0). */
  gain: number;
  candidates: ScheduleCandidate[];
}

/** Decay fractions tried by adviseSchedule. */
export const ADVICE_DECAY_FRACTIONS = [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1];

/**
 * For a target T (and β, through batchSize) at peak lr `lr`: WSD with every decay fraction in
 * ADVICE_DECAY_FRACTIONS × every decay shape, and cosine, ranked by the law's predicted final loss.
 */
export function adviseSchedule(
  fit: LossCurveFit,
  target: Omit<RunShape, "schedule"> & { lr: number; warmupTokens?: number },
): ScheduleAdvice {
  const warmupTokens = target.warmupTokens ?? 0;
  const base = { tokens: target.tokens, batchSize: target.batchSize, seqLen: target.seqLen };
  const evaluate = (schedule: ScheduleSpec): ScheduleCandidate => {
    const last = predictLossCurve(fit, { ...base, schedule }, { points: 2 }).curve.at(-1) as PredictedPoint;
    return { schedule, loss: last.loss, ci95: last.lower === null ? null : [last.lower, last.upper as number] };
  };
  const candidates: ScheduleCandidate[] = [];
  for (const decayFraction of ADVICE_DECAY_FRACTIONS)
    for (const decayShape of SCHEDULE_SHAPES) {
      if (warmupTokens + decayFraction * target.tokens > target.tokens) continue;
      candidates.push(evaluate({ type: "wsd", lr: target.lr, warmupTokens, decayFraction, decayShape }));
    }
  candidates.push(evaluate({ type: "cosine", lr: target.lr, warmupTokens, minLrRatio: 0 }));
  candidates.sort((a, b) => a.loss - b.loss);
  const baseline = evaluate({
    type: "wsd",
    lr: target.lr,
    warmupTokens,
    decayFraction: 0.1,
    decayShape: "exponential",
  });
  const best = candidates[0] as ScheduleCandidate;
  return { predicted: true, tokens: target.tokens, best, baseline, gain: baseline.loss - best.loss, candidates };
}
