import type { TokenStream } from "./dataset.ts";
import { DataError } from "./errors.ts";
import { mixSeed, mulberry32 } from "./random.ts";

/** One training or eval batch, row-major [batchSize, seqLen]; targets[i] is the token after inputs[i]. */
export interface Batch {
  inputs: Int32Array;
  targets: Int32Array;
}

export interface BatchLoaderOptions {
  /** β: sequences per step. */
  batchSize: number;
  seqLen: number;
  seed: number;
  /** Index of the first batch `next()` returns (default 0). */
  startStep?: number;
  /** If set, must equal the stream's length: guards against resuming on a different dataset. */
  streamLength?: number;
}

/** JSON-serialisable loader position; `createBatchLoader(stream, state)` continues exactly where it was. */
export interface LoaderState {
  batchSize: number;
  seqLen: number;
  seed: number;
  /** Index of the next batch `next()` will return. */
  startStep: number;
  streamLength: number;
}

export interface BatchLoader {
  next(): Batch;
  position(): LoaderState;
}

function requireInteger(name: string, value: number, minimum: number): void {
  if (!Number.isInteger(value) || value < minimum) {
    throw new DataError(`${name} must be an integer ≥ ${minimum} (got ${value})`);
  }
}

/**
 * Random training windows: batch `step` draws batchSize window starts uniformly from
 * [0, length - seqLen - 1] with mulberry32 seeded by mix(seed, step). Each batch depends only on
 * (seed, step), so resuming is O(1) and exact: the state is just the next step.
 */
export function createBatchLoader(stream: TokenStream, options: BatchLoaderOptions): BatchLoader {
  const { batchSize, seqLen, seed } = options;
  requireInteger("batchSize", batchSize, 1);
  requireInteger("seqLen", seqLen, 1);
  requireInteger("seed", seed, 0);
  let step = options.startStep ?? 0;
  requireInteger("startStep", step, 0);
  if (options.streamLength !== undefined && options.streamLength !== stream.length) {
    throw new DataError(
      `loader state was saved for a stream of ${options.streamLength} tokens but this stream has ${stream.length}; resume on the same dataset`,
    );
  }
  if (stream.length < seqLen + 1) {
    throw new DataError(`seqLen ${seqLen} needs at least ${seqLen + 1} tokens, but the stream has ${stream.length}`);
  }
  const starts = stream.length - seqLen; // window [s, s + seqLen] must fit
  return {
    next() {
      const random = mulberry32(mixSeed(seed, step));
      const inputs = new Int32Array(batchSize * seqLen);
      const targets = new Int32Array(batchSize * seqLen);
      for (let row = 0; row < batchSize; row++) {
        const start = Math.floor(random() * starts);
        inputs.set(stream.subarray(start, start + seqLen), row * seqLen);
        targets.set(stream.subarray(start + 1, start + seqLen + 1), row * seqLen);
      }
      step++;
      return { inputs, targets };
    },
    position: () => ({ batchSize, seqLen, seed, startStep: step, streamLength: stream.length }),
  };
}

export interface EvalBatch extends Batch {
  /** 1 where the target counts toward the test loss, 0 on padding (short last window, unused rows). */
  mask: Float32Array;
  /** Number of counted targets in this batch (sum of mask). */
  targetTokens: number;
}

export interface EvalOptions {
  /** Held-out target tokens the test loss is measured on. */
  evalTokens: number;
  seqLen: number;
  batchSize: number;
  /** The windows to pack (default: all of `evalWindows`); a subset packs only those. */
  windows?: readonly EvalWindow[];
}

/** One held-out window: inputs test[start, start + targets), targets test[start + 1, start + targets + 1). */
export interface EvalWindow {
  start: number;
  /** Counted targets: seqLen for every window but the last, which takes the remainder of evalTokens. */
  targets: number;
}

/**
 * Every EVAL_SUBSET_EVERY-th window (indices 0, 4, 8, …) is the subset the trainers evaluate during
 * training (the test-loss points of a curve): spread like the whole set, at a quarter of its cost.
 */
export const EVAL_SUBSET_EVERY = 4;

function checkEval(testLength: number, evalTokens: number, seqLen: number): void {
  requireInteger("evalTokens", evalTokens, 1);
  requireInteger("seqLen", seqLen, 1);
  if (testLength < seqLen + 1) {
    throw new DataError(
      `seqLen ${seqLen} is longer than the test stream allows (${testLength} tokens; need ${seqLen + 1})`,
    );
  }
  if (evalTokens > testLength - 1) {
    throw new DataError(
      `evalTokens ${evalTokens} exceeds the held-out targets available (test stream has ${testLength} tokens, so at most ${testLength - 1})`,
    );
  }
}

/**
 * The fixed held-out set: W = ceil(evalTokens / seqLen) windows spread evenly over the whole test
 * stream, so every held-out document is represented in proportion to its length (the first
 * evalTokens of the stream were two 1790s addresses of SOTU, 0.055 nats easier than the rest).
 * Window w starts at floor(w · span / (W − 1)) with span = length − 1 − (last window's targets),
 * so the first window starts at 0, the last ends on the stream's last token, and the counted
 * targets never overlap (exactly evalTokens of them; with evalTokens = length − 1 the windows are
 * contiguous and count every target). Depends only on the test stream's length, evalTokens and
 * seqLen: the same for every trial of a sweep, whatever its seed or batch size.
 */
export function evalWindows(testLength: number, options: { evalTokens: number; seqLen: number }): EvalWindow[] {
  const { evalTokens, seqLen } = options;
  checkEval(testLength, evalTokens, seqLen);
  const count = Math.ceil(evalTokens / seqLen);
  const last = evalTokens - (count - 1) * seqLen;
  const span = testLength - 1 - last;
  return Array.from({ length: count }, (_, w) => ({
    start: count === 1 ? 0 : Math.floor((w * span) / (count - 1)),
    targets: w === count - 1 ? last : seqLen,
  }));
}

/** The windows evaluated during training: every EVAL_SUBSET_EVERY-th of `windows`. */
export function evalSubset(windows: readonly EvalWindow[]): EvalWindow[] {
  return windows.filter((_, w) => w % EVAL_SUBSET_EVERY === 0);
}

/**
 * The held-out windows (evalWindows, or options.windows) packed batchSize per batch; positions past
 * a window's counted targets are padding with mask 0. Test loss = Σ(loss·mask) / Σ targetTokens
 * (= evalTokens for the whole set), perplexity = exp(test loss).
 */
export function evalBatches(test: TokenStream, options: EvalOptions): EvalBatch[] {
  const { evalTokens, seqLen, batchSize } = options;
  requireInteger("batchSize", batchSize, 1);
  const windows = options.windows ?? evalWindows(test.length, { evalTokens, seqLen });
  checkEval(test.length, evalTokens, seqLen);
  const batches: EvalBatch[] = [];
  for (let first = 0; first < windows.length; first += batchSize) {
    const inputs = new Int32Array(batchSize * seqLen);
    const targets = new Int32Array(batchSize * seqLen);
    const mask = new Float32Array(batchSize * seqLen);
    let targetTokens = 0;
    for (let row = 0; row < batchSize && first + row < windows.length; row++) {
      const { start, targets: counted } = windows[first + row] as EvalWindow;
      if (!(counted >= 1 && counted <= seqLen && start >= 0 && start + counted + 1 <= test.length)) {
        throw new DataError(
          `eval window ${first + row} (start ${start}, ${counted} targets) does not fit the test stream`,
        );
      }
      inputs.set(test.subarray(start, start + counted), row * seqLen);
      targets.set(test.subarray(start + 1, start + counted + 1), row * seqLen);
      mask.fill(1, row * seqLen, row * seqLen + counted);
      targetTokens += counted;
    }
    batches.push({ inputs, targets, mask, targetTokens });
  }
  return batches;
}
