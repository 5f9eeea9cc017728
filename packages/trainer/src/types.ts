// The contract between the worker and any trainer backend (tfjs in-process, exec over stdio, …).
// The worker only knows runTrial(config, options) → result and the checkpoint directory.
import type { TrialConfig } from "@powersweep/spec";
import type { TrialCurve } from "./curve.ts";

export interface TrialProgress {
  step: number;
  /** Training tokens seen so far. */
  tokens: number;
  /** Learning rate η used at this step (before per-group μP scaling). */
  lr: number;
  trainLoss: number;
  /** Held-out loss, when an evaluation ran at this point. */
  evalLoss?: number;
  tokensPerSecond: number;
}

export interface TrialResult {
  /**
   * succeeded: trained to T tokens and evaluated.
   * diverged: stopped early on NaN/Inf or a loss far above the initial loss (a result, not a failure).
   * aborted: the signal fired; a checkpoint was written when a checkpoint directory was given.
   */
  status: "succeeded" | "diverged" | "aborted";
  trainLoss: number | null;
  testLoss: number | null;
  /** exp(mean held-out loss per token). */
  testPerplexity: number | null;
  tokensSeen: number;
  steps: number;
  tokensPerSecond: number;
  wallSeconds: number;
  /** Why a diverged run stopped. */
  reason?: string;
  /** Whether an aborted run left a checkpoint it can resume from. */
  checkpointSaved?: boolean;
  backend: string;
  /** The dense curve so far (train loss and lr at curveSteps, held-out subset loss at evalSteps); docs/trial-curves.md. */
  curve?: TrialCurve;
  /**
   * Steps this call did not train itself: the step of the checkpoint it started from (its own
   * checkpoint when resuming, or the trunk checkpoint of `startFrom`), 0 when it started from
   * scratch. Tokens this call trained = (steps − startStep) · batchSize · seqLen.
   */
  startStep: number;
}

/** A checkpoint the run writes for a decay branch that shares its first `step` steps (docs/branches.md). */
export interface BranchCheckpoint {
  /** Optimizer steps after which the checkpoint is taken: the branch trial's first own step is step + 1. */
  step: number;
  /** Directory the checkpoint is written to (a temp directory renamed into place). */
  dir: string;
  /** The branch trial: same trunkKey as the run's config, step ≤ sharedSteps of both. */
  config: TrialConfig;
}

export interface RunTrialOptions {
  onProgress?: (p: TrialProgress) => void;
  /** Minimum milliseconds between two onProgress calls (bounded rate). Default 1000. */
  progressIntervalMs?: number;
  signal?: AbortSignal;
  /** Where checkpoints live; when it holds one, training resumes from it. */
  checkpointDir?: string;
  /** Checkpoint every N training tokens (0 or absent: only when aborted). */
  checkpointEveryTokens?: number;
  /**
   * Decay branches sharing this run's trunk: after exactly `step` steps, a complete checkpoint that
   * a trial with `config` can start from (its own config and curve, as if it had trained from
   * scratch to `step`) is written to `dir`. Branches whose step a resumed run has already passed
   * are skipped (written by the earlier attempt). Invalid branches are an InvalidConfigError.
   */
  branchCheckpoints?: BranchCheckpoint[];
  /** Called after each branch checkpoint is durably written (renamed into place). */
  onBranchCheckpoint?: (step: number, dir: string) => void | Promise<void>;
  /**
   * A trunk checkpoint to start from when checkpointDir holds none of this trial's own: it must be
   * a checkpoint of this exact config after `step` steps (else InvalidConfigError). When `dir`
   * holds no checkpoint (lost), the trial trains from scratch.
   */
  startFrom?: { dir: string; step: number };
}

export interface Trainer {
  readonly name: string;
  runTrial(config: TrialConfig, options?: RunTrialOptions): Promise<TrialResult>;
}

/** The config cannot be trained (bad shape, missing corpus…): retrying will not help. */
export class InvalidConfigError extends Error {
  override name = "InvalidConfigError";
}
