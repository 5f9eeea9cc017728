// The learning rate of every optimiser update of a trial, computed with the same schedule function
// the trainers use (packages/schedules), and the areas the loss-curve laws are written in.
//
// Units: areas are sums of η over optimiser updates (lr × steps). Update i (1-based) sees
// tokensPerStep = batchSize·seqLen tokens and uses η_i = schedule((i − 1)·tokensPerStep), exactly as
// the tfjs trainer does (packages/trainer: "lr(step) = schedule(tokens seen before the step)"), and a
// trial runs ceil(tokens / tokensPerStep) updates. Both laws are fitted and predicted in these units,
// so their constants (A, C, B, …) are only comparable between runs of the same tokensPerStep.
import { createSchedule } from "@powersweep/schedules";
import type { ScheduleSpec } from "@powersweep/spec";

/** What fixes a run's lr sequence: its schedule, T and the tokens one update sees. */
export interface RunShape {
  schedule: ScheduleSpec;
  /** T: total training tokens. */
  tokens: number;
  /** β: sequences per step. */
  batchSize: number;
  seqLen: number;
}

/** The lr sequence of a run, with the prefix sums both laws need. */
export interface LrTrace {
  /** η_i of update i at index i − 1. */
  lrs: Float64Array;
  /** area[u] = Σ_{i ≤ u} η_i (area[0] = 0): the forward area S1 after u updates, warmup included. */
  area: Float64Array;
  /** Updates inside the linear warmup (η still rising). */
  warmupSteps: number;
  tokensPerStep: number;
  /** Total optimiser updates of the run. */
  steps: number;
}

/** η per update and its prefix sums for one run. Throws on an invalid schedule (as the trainer would). */
export function lrTrace(run: RunShape): LrTrace {
  const tokensPerStep = run.batchSize * run.seqLen;
  if (!(tokensPerStep > 0)) throw new RangeError(`batchSize·seqLen must be > 0 (got ${tokensPerStep})`);
  const schedule = createSchedule(run.schedule, { totalTokens: run.tokens, batchSize: run.batchSize });
  const steps = Math.ceil(run.tokens / tokensPerStep);
  const lrs = new Float64Array(steps);
  const area = new Float64Array(steps + 1);
  let warmupSteps = 0;
  for (let i = 1; i <= steps; i++) {
    const tokensBefore = (i - 1) * tokensPerStep;
    const lr = schedule(tokensBefore);
    lrs[i - 1] = lr;
    area[i] = (area[i - 1] as number) + lr;
    if (tokensBefore < run.schedule.warmupTokens) warmupSteps = i;
  }
  return { lrs, area, warmupSteps, tokensPerStep, steps };
}

/**
 * Decrements of η after warmup: Δ_i = η_{i−1} − η_i for updates i > warmupSteps + 1 (0 elsewhere,
 * index i − 1). The first post-warmup update's η is the reference "η_0" both papers start from; the
 * rising lr of the warmup is not annealing.
 */
export function lrDecrements(trace: LrTrace): Float64Array {
  const d = new Float64Array(trace.steps);
  for (let i = trace.warmupSteps + 2; i <= trace.steps; i++)
    d[i - 1] = (trace.lrs[i - 2] as number) - (trace.lrs[i - 1] as number);
  return d;
}
