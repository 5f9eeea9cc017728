// The in-process TensorFlow.js trainer: one trial = load data, build the μP GPT
// (packages/model), train for ceil(T / (β·seqLen)) AdamW steps with the schedule's η, evaluate
// on the fixed held-out windows. Reads like nanoGPT's train.py: a plain loop.
//
//   steps      = ceil(tokens / (batchSize·seqLen)); each step sees batchSize·seqLen tokens
//   lr(step)   = schedule(tokens seen before the step)           (packages/schedules)
//   trainLoss  = mean of the last TRAIN_LOSS_WINDOW step losses
//   testLoss   = Σ per-token CE over exactly evalTokens held-out targets / evalTokens, in windows
//                spread evenly over the held-out text (packages/data evalWindows)
//   perplexity = exp(testLoss)
//   curve      = train loss and lr at curveSteps, held-out subset loss at evalSteps (curve.ts)
import {
  createBatchLoader,
  DataError,
  type EvalBatch,
  evalBatches,
  evalSubset,
  evalWindows,
  type LoaderState,
  loadDataset,
} from "@powersweep/data";
import {
  type AdamW,
  type BackendName,
  createAdamW,
  createGPT,
  type GPT,
  type GPTConfig,
  initBackend,
  maskedLossSum,
  setGradientWorker,
  trainStep,
} from "@powersweep/model";
import { createSchedule } from "@powersweep/schedules";
import { type TrialConfig, TrialConfigSchema } from "@powersweep/spec";
import { Value } from "@sinclair/typebox/value";
import * as tf from "@tensorflow/tfjs";
import { checkBranchCheckpoints, checkStartFrom, sameConfig } from "./branches.ts";
import { type CheckpointTensor, loadCheckpoint, saveCheckpoint, saveCheckpointDir } from "./checkpoint.ts";
import { CurveRecorder, decayStartStep, emptyCurve, type TrialCurve } from "./curve.ts";
import { divergenceReason } from "./divergence.ts";
import {
  type BranchCheckpoint,
  InvalidConfigError,
  type RunTrialOptions,
  type Trainer,
  type TrialResult,
} from "./types.ts";

/** Final train loss = mean of this many last step losses. */
export const TRAIN_LOSS_WINDOW = 10;

export interface TfjsTrainerOptions {
  /** Default: tfjs-node(-gpu) when installed, else wasm. */
  backend?: BackendName;
  /**
   * The second half-batch shard in a worker thread (model's data-parallel.ts). Default: on with
   * ≥ 2 cores unless POWERSWEEP_GRAD_WORKER=0. A process that runs several tfjs trials at once
   * turns it off: the trials already share the cores, and one helper thread would swap between
   * their models every step. Results are the same either way.
   */
  gradientWorker?: boolean;
}

/** What a checkpoint stores besides tensors. The only randomness during training is the data
 * order, keyed by (seed, step) in the loader, so the loader state is the whole rng state. */
interface CheckpointMeta {
  config: TrialConfig;
  step: number;
  tokensSeen: number;
  loader: LoaderState;
  adamStep: number;
  initialLoss: number | null;
  recentLosses: number[];
  curve: TrialCurve;
  curvePending: { sum: number; count: number };
  /** A trunk host's branches still to write, with their curves so far (docs/branches.md). */
  branches?: BranchState[];
}

/** A pending branch checkpoint's curve recorder state, kept in the host's own checkpoints. */
interface BranchState {
  step: number;
  dir: string;
  config: TrialConfig;
  curve: TrialCurve;
  curvePending: { sum: number; count: number };
}

export function createTfjsTrainer(options: TfjsTrainerOptions = {}): Trainer {
  return { name: "tfjs", runTrial: (config, runOptions) => runTfjsTrial(config, runOptions, options) };
}

function checkTrialConfig(config: TrialConfig): void {
  const first = Value.Errors(TrialConfigSchema, config).First();
  if (first) throw new InvalidConfigError(`config${first.path.replaceAll("/", ".")}: ${first.message}`);
}

/** Model config for a trial: shape + μP multipliers from the trial, vocab from the data. */
export function gptConfigFor(config: TrialConfig, vocabSize: number): GPTConfig {
  return { ...config.model, ...config.mup, vocabSize, seqLen: config.seqLen, parametrization: "mup" };
}

async function runTfjsTrial(
  config: TrialConfig,
  options: RunTrialOptions = {},
  trainerOptions: TfjsTrainerOptions,
): Promise<TrialResult> {
  const started = performance.now();
  checkTrialConfig(config);
  for (const b of options.branchCheckpoints ?? []) checkTrialConfig(b.config);
  const branchSpecs = checkBranchCheckpoints(config, options.branchCheckpoints ?? []);
  const { batchSize, seqLen, seed } = config;
  const backend = `tfjs-${await initBackend(trainerOptions.backend)}`;
  if (trainerOptions.gradientWorker !== undefined) setGradientWorker(trainerOptions.gradientWorker);

  let dataset: Awaited<ReturnType<typeof loadDataset>>;
  try {
    dataset = await loadDataset({ corpus: config.corpus, tokenizer: config.tokenizer });
  } catch (error) {
    if (error instanceof DataError) throw new InvalidConfigError(error.message);
    throw error;
  }
  const { train, test, vocabSize } = dataset;
  if (train.length < seqLen + 1)
    throw new InvalidConfigError(
      `seqLen ${seqLen} needs ${seqLen + 1} training tokens; the corpus has ${train.length}`,
    );
  // The held-out set: the subset (every 4th window) is evaluated during training for the curve; at
  // the end the subset and the other windows together give the test loss over all evalTokens.
  let subsetBatches: EvalBatch[];
  let restBatches: EvalBatch[];
  let subsetTargets: number;
  try {
    const windows = evalWindows(test.length, { evalTokens: config.evalTokens, seqLen });
    const subset = evalSubset(windows);
    const inSubset = new Set(subset);
    subsetTargets = subset.reduce((n, w) => n + w.targets, 0);
    subsetBatches = evalBatches(test, { evalTokens: config.evalTokens, seqLen, batchSize, windows: subset });
    restBatches = evalBatches(test, {
      evalTokens: config.evalTokens,
      seqLen,
      batchSize,
      windows: windows.filter((w) => !inSubset.has(w)),
    });
  } catch (error) {
    if (error instanceof DataError) throw new InvalidConfigError(error.message);
    throw error;
  }
  let schedule: (tokens: number) => number;
  try {
    schedule = createSchedule(config.schedule, { totalTokens: config.tokens, batchSize });
  } catch (error) {
    throw new InvalidConfigError(`schedule: ${(error as Error).message}`);
  }

  const tokensPerStep = batchSize * seqLen;
  const totalSteps = Math.ceil(config.tokens / tokensPerStep);
  const decayStart = decayStartStep(config.schedule, config.tokens, tokensPerStep);
  const model = createGPT(gptConfigFor(config, vocabSize), seed);
  const optimizer = createAdamW(model, config.optimizer);
  try {
    let step = 0;
    let tokensSeen = 0;
    let initialLoss: number | null = null;
    let recentLosses: number[] = [];
    let loaderState: LoaderState = { batchSize, seqLen, seed, startStep: 0, streamLength: train.length };
    let curve = emptyCurve(subsetTargets);
    let curvePending = { sum: 0, count: 0 };
    let savedBranches: BranchState[] = [];

    // Own checkpoint (a resumed attempt) first; else the trunk checkpoint this branch starts from.
    let checkpoint = options.checkpointDir ? await loadCheckpoint<CheckpointMeta>(options.checkpointDir) : null;
    if (checkpoint && !sameConfig(checkpoint.meta.config, config)) {
      throw new InvalidConfigError(
        `${options.checkpointDir} holds a checkpoint of a different trial config; refusing to resume from it`,
      );
    }
    if (!checkpoint && options.startFrom) {
      checkpoint = await loadCheckpoint<CheckpointMeta>(options.startFrom.dir);
      if (checkpoint) checkStartFrom(config, options.startFrom, checkpoint.meta);
    }
    if (checkpoint) {
      restoreTensors(model, optimizer, checkpoint.tensors);
      ({ step, tokensSeen, initialLoss, recentLosses } = checkpoint.meta);
      if (checkpoint.meta.curve) ({ curve, curvePending } = checkpoint.meta);
      optimizer.setStep(checkpoint.meta.adamStep);
      loaderState = checkpoint.meta.loader;
      savedBranches = checkpoint.meta.branches ?? [];
    }
    const startStep = step;
    const loader = createBatchLoader(train, loaderState);
    const recorder = new CurveRecorder(totalSteps, decayStart, curve, curvePending);
    const branches = pendingBranches(branchSpecs, step, savedBranches, subsetTargets);
    const evalSum = async (batches: EvalBatch[]) => {
      let sum = 0;
      for (const b of batches) {
        sum += maskedLossSum(model, b.inputs, b.targets, b.mask, batchSize);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      return sum;
    };
    const save = async () => {
      if (!options.checkpointDir) return false;
      const meta: CheckpointMeta = {
        config,
        step,
        tokensSeen,
        loader: loader.position(),
        adamStep: optimizer.t,
        initialLoss,
        recentLosses,
        curve: recorder.curve,
        curvePending: recorder.pending(),
        branches: branches.map((b) => ({
          step: b.spec.step,
          dir: b.spec.dir,
          config: b.spec.config,
          curve: b.recorder.curve,
          curvePending: b.recorder.pending(),
        })),
      };
      await saveCheckpoint(options.checkpointDir, { meta, tensors: snapshotTensors(model, optimizer) });
      return true;
    };
    // The checkpoint the branch would hold had it trained from scratch to this step: its own config
    // and curve; the tensors, data order, optimizer step and losses are the trunk's.
    const saveBranches = async () => {
      const due = branches.filter((b) => b.spec.step === step);
      if (due.length === 0) return;
      const tensors = snapshotTensors(model, optimizer);
      for (const b of due) {
        const meta: CheckpointMeta = {
          config: b.spec.config,
          step,
          tokensSeen,
          loader: loader.position(),
          adamStep: optimizer.t,
          initialLoss,
          recentLosses,
          curve: b.recorder.curve,
          curvePending: b.recorder.pending(),
        };
        await saveCheckpointDir(b.spec.dir, { meta, tensors });
        branches.splice(branches.indexOf(b), 1);
        await options.onBranchCheckpoint?.(step, b.spec.dir);
      }
    };

    const sessionStart = performance.now();
    const sessionTokens0 = tokensSeen;
    const tokensPerSecond = () =>
      (tokensSeen - sessionTokens0) / Math.max(1e-9, (performance.now() - sessionStart) / 1000);
    const progressIntervalMs = options.progressIntervalMs ?? 1000;
    let lastProgress = Number.NEGATIVE_INFINITY;
    const every = options.checkpointEveryTokens ?? 0;
    const trainLoss = () =>
      recentLosses.length ? recentLosses.reduce((a, b) => a + b, 0) / recentLosses.length : null;
    const result = (status: TrialResult["status"], extra: Partial<TrialResult> = {}): TrialResult => ({
      status,
      trainLoss: trainLoss(),
      testLoss: null,
      testPerplexity: null,
      tokensSeen,
      steps: step,
      tokensPerSecond: tokensPerSecond(),
      wallSeconds: (performance.now() - started) / 1000,
      backend,
      curve: recorder.curve,
      startStep,
      ...extra,
    });

    while (step < totalSteps) {
      if (options.signal?.aborted) return result("aborted", { checkpointSaved: await save() });
      const tokensBefore = tokensSeen;
      const lr = schedule(tokensBefore); // η at the tokens seen before this step
      const batch = loader.next();
      const loss = trainStep(model, optimizer, batch.inputs, batch.targets, batchSize, lr);
      step++;
      tokensSeen += tokensPerStep;
      const reason = divergenceReason(loss, initialLoss, step);
      if (initialLoss === null && Number.isFinite(loss)) initialLoss = loss;
      if (Number.isFinite(loss)) recentLosses = [...recentLosses, loss].slice(-TRAIN_LOSS_WINDOW);
      recorder.onStep(step, tokensSeen, lr, loss);
      for (const b of branches) b.recorder.onStep(step, tokensSeen, b.schedule(tokensBefore), loss);
      // Held-out subset at this run's eval steps and at its pending branches' (the branch curves
      // need them; an evaluation leaves the training state as it was).
      let evalLoss: number | undefined;
      const hostEval = !reason && step < totalSteps && recorder.evalDue(step);
      const branchEvals = reason ? [] : branches.filter((b) => step < b.totalSteps && b.recorder.evalDue(step));
      if (hostEval || branchEvals.length > 0) {
        const subsetLoss = (await evalSum(subsetBatches)) / subsetTargets;
        for (const b of branchEvals) b.recorder.onEval(step, tokensSeen, subsetLoss);
        if (hostEval) {
          evalLoss = subsetLoss;
          recorder.onEval(step, tokensSeen, evalLoss);
        }
      }
      const now = performance.now();
      if (reason || evalLoss !== undefined || (step < totalSteps && now - lastProgress >= progressIntervalMs)) {
        lastProgress = now;
        options.onProgress?.({
          step,
          tokens: tokensSeen,
          lr,
          trainLoss: loss,
          ...(evalLoss !== undefined ? { evalLoss } : {}),
          tokensPerSecond: tokensPerSecond(),
        });
      }
      if (reason) return result("diverged", { reason, trainLoss: Number.isFinite(loss) ? loss : null });
      await saveBranches(); // before this step's own checkpoint: a resumed run skips passed branches
      if (every > 0 && Math.floor(tokensSeen / every) > Math.floor((tokensSeen - tokensPerStep) / every)) await save();
      await new Promise<void>((resolve) => setImmediate(resolve)); // let heartbeats / lock renewals run
    }
    const trainedTokensPerSecond = tokensPerSecond();

    // Held-out evaluation: exactly evalTokens counted targets (padding masked out); the subset's
    // share is the curve's last held-out point.
    const subsetSum = await evalSum(subsetBatches);
    recorder.onEval(step, tokensSeen, subsetSum / subsetTargets);
    const testLoss = (subsetSum + (await evalSum(restBatches))) / config.evalTokens;
    options.onProgress?.({
      step,
      tokens: tokensSeen,
      lr: schedule(Math.max(0, tokensSeen - tokensPerStep)),
      trainLoss: recentLosses.at(-1) ?? Number.NaN,
      evalLoss: testLoss,
      tokensPerSecond: trainedTokensPerSecond,
    });
    if (!Number.isFinite(testLoss)) {
      return result("diverged", { reason: `held-out loss is ${testLoss}`, tokensPerSecond: trainedTokensPerSecond });
    }
    return result("succeeded", {
      testLoss,
      testPerplexity: Math.exp(testLoss),
      tokensPerSecond: trainedTokensPerSecond,
    });
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

interface PendingBranch {
  spec: BranchCheckpoint;
  recorder: CurveRecorder;
  schedule: (tokens: number) => number;
  totalSteps: number;
}

/**
 * The branch checkpoints still ahead of `step`, each with the curve recorder its trial would have
 * (its own curveSteps/evalSteps grid). A resumed host takes their curves from its own checkpoint; a
 * branch the checkpoint has no curve for (it was not asked for when the checkpoint was written)
 * cannot be reconstructed and is not written: its trial then trains from scratch.
 */
function pendingBranches(
  specs: BranchCheckpoint[],
  step: number,
  saved: BranchState[],
  evalTargets: number,
): PendingBranch[] {
  const out: PendingBranch[] = [];
  for (const spec of specs) {
    if (spec.step <= step) continue; // written by the attempt that got past it
    const c = spec.config;
    const tokensPerStep = c.batchSize * c.seqLen;
    const totalSteps = Math.ceil(c.tokens / tokensPerStep);
    let curve = emptyCurve(evalTargets);
    let curvePending = { sum: 0, count: 0 };
    if (step > 0) {
      const found = saved.find((s) => s.step === spec.step && s.dir === spec.dir && sameConfig(s.config, c));
      if (!found) continue;
      ({ curve, curvePending } = found);
    }
    out.push({
      spec,
      recorder: new CurveRecorder(totalSteps, decayStartStep(c.schedule, c.tokens, tokensPerStep), curve, curvePending),
      schedule: createSchedule(c.schedule, { totalTokens: c.tokens, batchSize: c.batchSize }),
      totalSteps,
    });
  }
  return out;
}

/** Parameters and AdamW moments as named float32 arrays (checkpoint order = model.params order). */
export function snapshotTensors(model: GPT, optimizer: AdamW): CheckpointTensor[] {
  const out: CheckpointTensor[] = [];
  for (const [name, p] of model.params) {
    const mo = optimizer.moments.get(name);
    if (!mo) throw new Error(`no AdamW moments for ${name}`);
    out.push({ name: `param/${name}`, shape: p.shape, data: p.dataSync() as Float32Array });
    out.push({ name: `adam.m/${name}`, shape: p.shape, data: mo.m.dataSync() as Float32Array });
    out.push({ name: `adam.v/${name}`, shape: p.shape, data: mo.v.dataSync() as Float32Array });
  }
  return out;
}

export function restoreTensors(model: GPT, optimizer: AdamW, tensors: CheckpointTensor[]): void {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const assign = (name: string, target: { shape: number[]; assign(t: never): void }) => {
    const t = byName.get(name);
    if (!t) throw new InvalidConfigError(`checkpoint lacks tensor ${name}`);
    if (t.shape.join("x") !== target.shape.join("x"))
      throw new InvalidConfigError(`checkpoint tensor ${name} has shape ${t.shape}, model expects ${target.shape}`);
    target.assign(tf.tensor(t.data, t.shape, "float32") as never);
  };
  // tidy disposes the temporary tensors; the variables keep the assigned data
  tf.tidy(() => {
    for (const [name, p] of model.params) {
      const mo = optimizer.moments.get(name);
      if (!mo) throw new Error(`no AdamW moments for ${name}`);
      assign(`param/${name}`, p);
      assign(`adam.m/${name}`, mo.m);
      assign(`adam.v/${name}`, mo.v);
    }
  });
}
