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
  /** 1 where the target counts toward the test loss, 0 on padding (only in the last batch). */
  mask: Float32Array;
  /** Number of counted targets in this batch (sum of mask). */
  targetTokens: number;
}

export interface EvalOptions {
  /** Held-out target tokens the test loss is measured on. */
  evalTokens: number;
  seqLen: number;
  batchSize: number;
}

/**
 * The fixed held-out set: contiguous, non-overlapping windows from the start of the test stream.
 * Window w has inputs test[w·seqLen, (w+1)·seqLen) and targets shifted by one, so the counted targets
 * are exactly test[1 … evalTokens]. Windows are packed batchSize per batch; positions past evalTokens
 * are padding with mask 0. Test loss = Σ(loss·mask) / evalTokens, perplexity = exp(test loss).
 */
export function evalBatches(test: TokenStream, options: EvalOptions): EvalBatch[] {
  const { evalTokens, seqLen, batchSize } = options;
  requireInteger("evalTokens", evalTokens, 1);
  requireInteger("seqLen", seqLen, 1);
  requireInteger("batchSize", batchSize, 1);
  if (test.length < seqLen + 1) {
    throw new DataError(
      `seqLen ${seqLen} is longer than the test stream allows (${test.length} tokens; need ${seqLen + 1})`,
    );
  }
  if (evalTokens > test.length - 1) {
    throw new DataError(
      `evalTokens ${evalTokens} exceeds the held-out targets available (test stream has ${test.length} tokens, so at most ${test.length - 1})`,
    );
  }
  const windows = Math.ceil(evalTokens / seqLen);
  const batches: EvalBatch[] = [];
  for (let first = 0; first < windows; first += batchSize) {
    const inputs = new Int32Array(batchSize * seqLen);
    const targets = new Int32Array(batchSize * seqLen);
    const mask = new Float32Array(batchSize * seqLen);
    let targetTokens = 0;
    for (let row = 0; row < batchSize && first + row < windows; row++) {
      const start = (first + row) * seqLen;
      const counted = Math.min(seqLen, evalTokens - start);
      inputs.set(test.subarray(start, start + counted), row * seqLen);
      targets.set(test.subarray(start + 1, start + counted + 1), row * seqLen);
      mask.fill(1, row * seqLen, row * seqLen + counted);
      targetTokens += counted;
    }
    batches.push({ inputs, targets, mask, targetTokens });
  }
  return batches;
}
