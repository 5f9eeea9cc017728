// Dense training curves: which steps a trial records, and the recorder both trainers fill.
// The point schedule is pure integer/IEEE arithmetic (no exp/log), so python/train.py's port
// (curve_steps, eval_steps) gives the same steps bit for bit; a test compares them.
// The stored format is documented in docs/trial-curves.md.
import type { ScheduleSpec } from "@powersweep/spec";

/** Points spaced evenly over the run (the "linear later" part). */
export const CURVE_LINEAR_POINTS = 150;
/** Most points of the log-spaced early part. */
export const CURVE_LOG_POINTS = 106;
/** Ratio between consecutive early points (each at least one step after the last). */
export const CURVE_LOG_RATIO = 9 / 8;
/** The early part runs until this many linear strides, where the linear spacing is finer. */
export const CURVE_LOG_SPAN_STRIDES = 8;
/** Held-out evaluations during a run: at k/EVAL_FRACTIONS of the steps (k = 1 … EVAL_FRACTIONS), plus the decay's start. */
export const EVAL_FRACTIONS = 5;

/**
 * The steps after which train loss and lr are recorded (1-based: after `step` optimizer steps):
 * every step when totalSteps ≤ CURVE_LINEAR_POINTS + CURVE_LOG_POINTS; otherwise a log-spaced
 * early part (1, 2, …, then ×9/8 each, up to CURVE_LOG_SPAN_STRIDES linear strides, at most
 * CURVE_LOG_POINTS points) and CURVE_LINEAR_POINTS evenly spaced points (stride
 * ceil(totalSteps / CURVE_LINEAR_POINTS)), always ending on the last step. At most
 * CURVE_LINEAR_POINTS + CURVE_LOG_POINTS + 1 points, whatever the run's length.
 */
export function curveSteps(totalSteps: number): number[] {
  if (!(Number.isInteger(totalSteps) && totalSteps >= 0))
    throw new Error(`totalSteps must be an integer ≥ 0 (got ${totalSteps})`);
  if (totalSteps <= CURVE_LINEAR_POINTS + CURVE_LOG_POINTS) return Array.from({ length: totalSteps }, (_, i) => i + 1);
  const stride = Math.ceil(totalSteps / CURVE_LINEAR_POINTS);
  const steps = new Set<number>();
  const logEnd = Math.min(totalSteps, CURVE_LOG_SPAN_STRIDES * stride);
  for (let s = 1, n = 0; s < logEnd && n < CURVE_LOG_POINTS; n++) {
    steps.add(s);
    s = Math.max(s + 1, Math.floor(s * CURVE_LOG_RATIO));
  }
  for (let s = stride; s < totalSteps; s += stride) steps.add(s);
  steps.add(totalSteps);
  return [...steps].sort((a, b) => a - b);
}

/**
 * The first step trained at a decayed lr is decayStartStep + 1; an evaluation after decayStartStep
 * steps is the loss at the start of the decay (end of the stable phase). Null for schedules without a
 * final decay (constant, cosine, or decayFraction 0).
 */
export function decayStartStep(schedule: ScheduleSpec, totalTokens: number, tokensPerStep: number): number | null {
  if (schedule.type !== "wsd" && schedule.type !== "power") return null;
  if (!(schedule.decayFraction > 0)) return null;
  const decayStart = totalTokens - schedule.decayFraction * totalTokens; // as createSchedule computes it
  return Math.floor(decayStart / tokensPerStep) + 1;
}

/**
 * The steps after which the held-out subset (evalSubset: every 4th window) is evaluated: after
 * ceil(k·totalSteps / EVAL_FRACTIONS) steps for k = 1 … EVAL_FRACTIONS, and at the start of the decay.
 * The last one is the end of the run, where the whole held-out set gives the test loss too.
 */
export function evalSteps(totalSteps: number, decayStart: number | null): number[] {
  const steps = new Set<number>();
  for (let k = 1; k <= EVAL_FRACTIONS; k++) steps.add(Math.ceil((k * totalSteps) / EVAL_FRACTIONS));
  if (decayStart !== null && decayStart >= 1 && decayStart <= totalSteps) steps.add(decayStart);
  return [...steps].filter((s) => s >= 1).sort((a, b) => a - b);
}

/**
 * A trial's dense curve, columnar (one array per quantity, equal lengths): compact as JSON and
 * stored as one row per trial attempt (TrialCurve). See docs/trial-curves.md.
 */
export interface TrialCurve {
  /** Steps taken when the point was recorded (curveSteps). */
  step: number[];
  /** Training tokens seen after that step. */
  tokens: number[];
  /** η the step was trained at (before the per-group μP scaling). */
  lr: number[];
  /** Mean of the step losses since the previous point (the step's own loss where every step is recorded); null if not finite. */
  trainLoss: (number | null)[];
  /** Held-out loss on the evaluation subset (every 4th window of the test set) at evalSteps. */
  eval: {
    step: number[];
    tokens: number[];
    loss: (number | null)[];
    /** Counted held-out targets of the subset. */
    targets: number;
  };
}

export function emptyCurve(evalTargets: number): TrialCurve {
  return {
    step: [],
    tokens: [],
    lr: [],
    trainLoss: [],
    eval: { step: [], tokens: [], loss: [], targets: evalTargets },
  };
}

const finiteOrNull = (x: number) => (Number.isFinite(x) ? x : null);

/** Fills a TrialCurve during training; its state is the curve plus the running loss sum (checkpointed). */
export class CurveRecorder {
  private readonly record: Set<number>;
  private readonly evalAt: Set<number>;
  private sum = 0;
  private count = 0;

  constructor(
    totalSteps: number,
    decayStart: number | null,
    readonly curve: TrialCurve,
    pending: { sum: number; count: number } = { sum: 0, count: 0 },
  ) {
    this.record = new Set(curveSteps(totalSteps));
    this.evalAt = new Set(evalSteps(totalSteps, decayStart));
    this.sum = pending.sum;
    this.count = pending.count;
  }

  /** After step `step` (1-based) trained at `lr` with loss `loss`, having seen `tokens`. */
  onStep(step: number, tokens: number, lr: number, loss: number): void {
    if (Number.isFinite(loss)) {
      this.sum += loss;
      this.count++;
    }
    if (!this.record.has(step)) return;
    this.curve.step.push(step);
    this.curve.tokens.push(tokens);
    this.curve.lr.push(lr);
    this.curve.trainLoss.push(this.count ? finiteOrNull(this.sum / this.count) : null);
    this.sum = 0;
    this.count = 0;
  }

  /** Whether the held-out subset is evaluated after this step. */
  evalDue(step: number): boolean {
    return this.evalAt.has(step);
  }

  onEval(step: number, tokens: number, loss: number): void {
    this.curve.eval.step.push(step);
    this.curve.eval.tokens.push(tokens);
    this.curve.eval.loss.push(finiteOrNull(loss));
  }

  /** The running mean's state, for checkpoints. */
  pending(): { sum: number; count: number } {
    return { sum: this.sum, count: this.count };
  }
}
