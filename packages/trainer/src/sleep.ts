// BENCHMARK-ONLY trainer "sleep": it trains nothing. It waits a time derived from the trial's
// token budget and returns a fixed loss, so the worker fleet's orchestration overhead (queue,
// Postgres writes, heartbeats, cancel, checkpoint/resume) can be measured and tested without
// paying for training. Never a default; a sweep must name it.
//
// Duration: ms = tokens × msPerToken, where msPerToken comes from the option, else the env var
// POWERSWEEP_SLEEP_MS_PER_TOKEN, else 1e-6 (one millisecond per million tokens). Set it to 0
// for a zero-time trial (the benchmark).
//
// It honours the contract like a real trainer: it reports progress at a bounded rate, resumes
// from `<checkpointDir>/sleep.json` when present, writes it every `checkpointEveryTokens` and
// when aborted, and returns status "aborted" when the signal fires. Decay branches: it writes a
// sleep.json at each branch checkpoint's step (a temp directory renamed into place) and starts from
// `startFrom.dir`'s sleep.json when it has none of its own (docs/branches.md).

import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { TrialConfig } from "@powersweep/spec";
import { checkBranchCheckpoints } from "./branches.ts";
import type { RunTrialOptions, Trainer, TrialResult } from "./types.ts";

/** The fixed losses a sleep trial reports. */
export const SLEEP_TRAIN_LOSS = 2.5;
export const SLEEP_TEST_LOSS = 2.75;
const CHECKPOINT_FILE = "sleep.json";

export interface SleepTrainerOptions {
  /** Milliseconds of waiting per training token (default: env POWERSWEEP_SLEEP_MS_PER_TOKEN or 1e-6). */
  msPerToken?: number;
}

async function readCheckpoint(dir: string | undefined): Promise<number> {
  const file = dir && join(dir, CHECKPOINT_FILE);
  // Most trials start fresh: a synchronous existence check (no error object, no thread-pool round
  // trip) keeps this benchmark trainer's own cost out of the orchestration overhead it measures.
  if (!file || !existsSync(file)) return 0;
  try {
    const c = JSON.parse(await readFile(file, "utf8")) as { tokens?: number };
    return typeof c.tokens === "number" && c.tokens > 0 ? c.tokens : 0;
  } catch {
    return 0;
  }
}

async function writeCheckpoint(dir: string, tokens: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `${CHECKPOINT_FILE}.${process.pid}.tmp`);
  await writeFile(tmp, JSON.stringify({ tokens }));
  await rename(tmp, join(dir, CHECKPOINT_FILE));
}

/** A branch checkpoint: the whole directory appears at once. */
async function writeBranchCheckpoint(dir: string, tokens: number): Promise<void> {
  const temp = join(dirname(dir), `.${basename(dir)}.tmp-${randomUUID()}`);
  await writeCheckpoint(temp, tokens);
  await rm(dir, { recursive: true, force: true });
  await rename(temp, dir);
}

export function createSleepTrainer(options: SleepTrainerOptions = {}): Trainer {
  const envRate = Number(process.env.POWERSWEEP_SLEEP_MS_PER_TOKEN);
  const msPerToken = options.msPerToken ?? (Number.isFinite(envRate) && envRate >= 0 ? envRate : 1e-6);
  return {
    name: "sleep",
    async runTrial(config: TrialConfig, opts: RunTrialOptions = {}): Promise<TrialResult> {
      const started = performance.now();
      const total = config.tokens;
      const tokensPerStep = Math.max(1, config.batchSize * config.seqLen);
      const steps = Math.max(1, Math.ceil(total / tokensPerStep));
      const branches = checkBranchCheckpoints(config, opts.branchCheckpoints ?? []);
      let tokens = Math.min(total, await readCheckpoint(opts.checkpointDir));
      if (tokens === 0 && opts.startFrom) tokens = Math.min(total, await readCheckpoint(opts.startFrom.dir));
      const startStep = Math.round((tokens / total) * steps);
      const pending = branches.filter((b) => b.step * tokensPerStep > tokens);
      const writeBranches = async () => {
        while (pending[0] && pending[0].step * tokensPerStep <= tokens) {
          const b = pending.shift() as (typeof pending)[number];
          await writeBranchCheckpoint(b.dir, b.step * tokensPerStep);
          await opts.onBranchCheckpoint?.(b.step, b.dir);
        }
      };
      const totalMs = total * msPerToken;
      const interval = opts.progressIntervalMs ?? 1000;
      const every = opts.checkpointEveryTokens ?? 0;
      let lastCheckpoint = tokens;
      let lastProgress = 0;
      const result = (status: TrialResult["status"], extra: Partial<TrialResult> = {}): TrialResult => {
        const wallSeconds = (performance.now() - started) / 1000;
        return {
          status,
          trainLoss: status === "succeeded" ? SLEEP_TRAIN_LOSS : null,
          testLoss: status === "succeeded" ? SLEEP_TEST_LOSS : null,
          testPerplexity: status === "succeeded" ? Math.exp(SLEEP_TEST_LOSS) : null,
          tokensSeen: tokens,
          steps: Math.round((tokens / total) * steps),
          tokensPerSecond: wallSeconds > 0 ? tokens / wallSeconds : 0,
          wallSeconds,
          backend: "sleep",
          startStep,
          ...extra,
        };
      };
      if (totalMs <= 0) {
        tokens = total;
        await writeBranches();
        return result("succeeded");
      }
      // Advance in slices of at most 50 ms so aborts and checkpoints are timely.
      const sliceTokens = Math.max(1, Math.floor(50 / msPerToken));
      while (tokens < total) {
        if (opts.signal?.aborted) {
          let checkpointSaved = false;
          if (opts.checkpointDir) {
            await writeCheckpoint(opts.checkpointDir, tokens);
            checkpointSaved = true;
          }
          return result("aborted", { checkpointSaved, reason: String(opts.signal.reason ?? "aborted") });
        }
        const step = Math.min(sliceTokens, total - tokens);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, step * msPerToken);
          opts.signal?.addEventListener(
            "abort",
            () => {
              clearTimeout(t);
              resolve();
            },
            { once: true },
          );
        });
        if (opts.signal?.aborted) continue;
        tokens += step;
        await writeBranches();
        if (opts.checkpointDir && every > 0 && tokens - lastCheckpoint >= every && tokens < total) {
          await writeCheckpoint(opts.checkpointDir, tokens);
          lastCheckpoint = tokens;
        }
        const now = performance.now();
        if (opts.onProgress && now - lastProgress >= interval) {
          lastProgress = now;
          const elapsed = (now - started) / 1000;
          opts.onProgress({
            step: Math.round((tokens / total) * steps),
            tokens,
            lr: 0,
            trainLoss: SLEEP_TRAIN_LOSS,
            tokensPerSecond: elapsed > 0 ? tokens / elapsed : 0,
          });
        }
      }
      return result("succeeded");
    },
  };
}
