// The exec backend: run a trial in a child process that speaks the exec protocol
// (docs/exec-protocol.md). One JSON object on stdin; JSON lines on stdout:
//   {"type":"progress", step, tokens, lr, trainLoss, evalLoss?, tokensPerSecond}
//   {"type":"branch-checkpoint", step, dir}   a branch checkpoint is in place (docs/branches.md)
//   {"type":"result", status, trainLoss, testLoss, testPerplexity, tokensSeen, steps, tokensPerSecond, wallSeconds, reason?, checkpointSaved?, curve?, startStep?}
//   {"type":"error", "class": "invalid-config" | "crash", message}
// Abort: SIGTERM, then SIGKILL after a grace period. The reference trainer is python/train.py.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { DataError, EVAL_SUBSET_EVERY, evalWindows } from "@powersweep/data";
import { type TrialConfig, TrialConfigSchema } from "@powersweep/spec";
import { Value } from "@sinclair/typebox/value";
import { checkBranchCheckpoints } from "./branches.ts";
import { execDataCacheDir, prepareExecData } from "./exec-data.ts";
import {
  type BranchCheckpoint,
  InvalidConfigError,
  type RunTrialOptions,
  type Trainer,
  type TrialProgress,
  type TrialResult,
} from "./types.ts";

/** Bytes of stderr kept for error messages. */
export const STDERR_TAIL_BYTES = 4096;
/** Default time between SIGTERM and SIGKILL. */
export const DEFAULT_GRACE_MS = 10_000;

export interface ExecTrainerOptions {
  name: string;
  /** argv: command[0] is spawned with the rest as arguments. */
  command: string[];
  /** Extra environment for the child (e.g. CUDA_VISIBLE_DEVICES), merged over process.env. */
  env?: NodeJS.ProcessEnv;
  /** Milliseconds between SIGTERM and SIGKILL on abort (default 10 s). */
  graceMs?: number;
  /** Where tokenised corpora are cached as binary files (default POWERSWEEP_DATA_CACHE or <tmp>/powersweep-data). */
  dataCacheDir?: string;
  /** Where stdout lines that are not protocol messages go (default: console.error with a prefix). */
  log?: (line: string) => void;
}

/** The stdin document of the exec protocol. */
export interface ExecJob {
  config: TrialConfig;
  checkpointDir: string | null;
  checkpointEveryTokens: number | null;
  /** Checkpoints for decay branches, ascending by step (RunTrialOptions.branchCheckpoints; checked before the job is sent). */
  branchCheckpoints: BranchCheckpoint[] | null;
  /** The trunk checkpoint to start from when checkpointDir holds none (RunTrialOptions.startFrom). */
  startFrom: { dir: string; step: number } | null;
  progressIntervalMs: number;
  data: { trainPath: string; testPath: string; dtype: "uint16" | "uint32"; vocabSize: number };
  /** The held-out windows as [start, counted targets] (packages/data evalWindows): every backend evaluates the same tokens. */
  evalWindows: Array<[number, number]>;
  /** Windows w with w % evalSubsetEvery = 0 are evaluated during training (the curve's held-out points). */
  evalSubsetEvery: number;
}

/** The trial's held-out windows over the test token file (its length from the file size). */
export async function execEvalWindows(config: TrialConfig, data: ExecJob["data"]): Promise<Array<[number, number]>> {
  const bytes = (await stat(data.testPath).catch(() => null))?.size;
  if (bytes === undefined) throw new InvalidConfigError(`data: cannot read ${data.testPath}`);
  try {
    return evalWindows(bytes / (data.dtype === "uint16" ? 2 : 4), {
      evalTokens: config.evalTokens,
      seqLen: config.seqLen,
    }).map((w) => [w.start, w.targets]);
  } catch (error) {
    if (error instanceof DataError) throw new InvalidConfigError(error.message);
    throw error;
  }
}

type ResultMessage = Omit<TrialResult, "backend" | "startStep"> & {
  type: "result";
  backend?: string;
  startStep?: number;
};
type ErrorMessage = { type: "error"; class: "invalid-config" | "crash"; message: string };
type ProgressMessage = Omit<TrialProgress, "trainLoss"> & { type: "progress"; trainLoss: number | null };
type BranchMessage = { type: "branch-checkpoint"; step: number; dir: string };

/** [python, absolute path of python/train.py]. Python: POWERSWEEP_PYTHON, else Debian's /usr/bin/python3
 * (where python3-torch installs; a pyenv/venv python3 on PATH usually lacks torch), else "python3". */
export function referenceTorchCommand(): string[] {
  const python = process.env.POWERSWEEP_PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
  return [python, fileURLToPath(new URL("../python/train.py", import.meta.url))];
}

export function createExecTrainer(options: ExecTrainerOptions): Trainer {
  if (options.command.length === 0) throw new Error(`exec trainer "${options.name}": empty command`);
  return { name: options.name, runTrial: (config, runOptions) => runExecTrial(options, config, runOptions) };
}

function checkTrialConfig(config: TrialConfig): void {
  const first = Value.Errors(TrialConfigSchema, config).First();
  if (first) throw new InvalidConfigError(`config${first.path.replaceAll("/", ".")}: ${first.message}`);
}

function parseLine(line: string): ResultMessage | ErrorMessage | ProgressMessage | BranchMessage | null {
  if (!line.startsWith("{")) return null;
  try {
    const msg = JSON.parse(line) as { type?: unknown };
    if (
      msg &&
      (msg.type === "progress" || msg.type === "result" || msg.type === "error" || msg.type === "branch-checkpoint")
    ) {
      return msg as ResultMessage | ErrorMessage | ProgressMessage | BranchMessage;
    }
  } catch {
    // not JSON: an ordinary log line
  }
  return null;
}

async function runExecTrial(
  trainer: ExecTrainerOptions,
  config: TrialConfig,
  options: RunTrialOptions = {},
): Promise<TrialResult> {
  const started = performance.now();
  checkTrialConfig(config);
  for (const b of options.branchCheckpoints ?? []) checkTrialConfig(b.config);
  const branchCheckpoints = checkBranchCheckpoints(config, options.branchCheckpoints ?? []);
  const data = await prepareExecData(config, trainer.dataCacheDir ?? execDataCacheDir());
  const progressIntervalMs = options.progressIntervalMs ?? 1000;
  const job: ExecJob = {
    config,
    checkpointDir: options.checkpointDir ?? null,
    checkpointEveryTokens: options.checkpointEveryTokens ?? null,
    branchCheckpoints: branchCheckpoints.length ? branchCheckpoints : null,
    startFrom: options.startFrom ?? null,
    progressIntervalMs,
    data,
    evalWindows: await execEvalWindows(config, data),
    evalSubsetEvery: EVAL_SUBSET_EVERY,
  };
  const aborted = (): TrialResult => ({
    status: "aborted",
    trainLoss: null,
    testLoss: null,
    testPerplexity: null,
    tokensSeen: 0,
    steps: 0,
    tokensPerSecond: 0,
    wallSeconds: (performance.now() - started) / 1000,
    checkpointSaved: false,
    backend: trainer.name,
    startStep: 0,
  });
  if (options.signal?.aborted) return aborted();

  const [file, ...args] = trainer.command as [string, ...string[]];
  // Its own process group (detached), so a stop reaches everything it started (data loaders,
  // torchrun children), not only the direct child.
  const child: ChildProcess = spawn(file, args, {
    env: { ...process.env, ...trainer.env },
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      child.kill(signal); // the group is gone already
    }
  };
  const log = trainer.log ?? ((line: string) => console.error(`[${trainer.name}] ${line}`));

  let stderrTail = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
  });
  child.stdin?.on("error", () => {}); // EPIPE when the child exits before reading: its exit status tells why
  child.stdin?.end(`${JSON.stringify(job)}\n`);

  let result: ResultMessage | null = null;
  let error: ErrorMessage | null = null;
  let lastProgress: ProgressMessage | null = null;
  let lastForwarded = Number.NEGATIVE_INFINITY;
  // onBranchCheckpoint calls, in order; the trial's result waits for them, and the first failure
  // fails the trial once the child is done (kept, not left as a rejected promise meanwhile).
  let branchCalls: Promise<void> = Promise.resolve();
  let branchFailure: { error: unknown } | null = null;
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on("line", (line) => {
    const msg = parseLine(line);
    if (!msg) {
      if (line.trim()) log(line);
      return;
    }
    if (msg.type === "result") result = msg;
    else if (msg.type === "error") error = msg;
    else if (msg.type === "branch-checkpoint") {
      const { step, dir } = msg;
      branchCalls = branchCalls
        .then(() => options.onBranchCheckpoint?.(step, dir))
        .catch((e: unknown) => {
          branchFailure ??= { error: e };
        });
    } else {
      lastProgress = msg;
      const now = performance.now();
      // bounded rate; the final evaluation is always forwarded
      if (msg.evalLoss !== undefined || now - lastForwarded >= progressIntervalMs) {
        lastForwarded = now;
        const { type: _type, ...progress } = msg;
        options.onProgress?.({ ...progress, trainLoss: progress.trainLoss ?? Number.NaN });
      }
    }
  });

  // Abort: SIGTERM now, SIGKILL after the grace period.
  let killTimer: NodeJS.Timeout | undefined;
  let killed = false;
  const onAbort = () => {
    signalGroup("SIGTERM");
    killTimer = setTimeout(() => {
      killed = true;
      signalGroup("SIGKILL");
    }, trainer.graceMs ?? DEFAULT_GRACE_MS);
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });

  let exit: { code: number | null; signal: NodeJS.Signals | null };
  try {
    exit = await new Promise((resolve, reject) => {
      child.once("error", (e) =>
        reject(new Error(`exec trainer "${trainer.name}": cannot start ${file}: ${e.message}`)),
      );
      child.once("close", (code, signal) => resolve({ code, signal }));
    });
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    if (killTimer) clearTimeout(killTimer);
    // a stopped trial leaves nothing behind: whatever its group still holds is killed
    if (options.signal?.aborted) signalGroup("SIGKILL");
  }
  await branchCalls;
  const failed = branchFailure as { error: unknown } | null;
  if (failed) throw failed.error;
  const tail = stderrTail.trim();
  const exitText = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;

  const err = error as ErrorMessage | null;
  if (err?.class === "invalid-config") throw new InvalidConfigError(err.message);
  if (err)
    throw new Error(`exec trainer "${trainer.name}" crashed (${exitText}): ${err.message}${tail ? `\n${tail}` : ""}`);
  const res = result as ResultMessage | null;
  if (res) {
    const { type: _type, backend, startStep, ...rest } = res;
    return { ...rest, backend: backend ?? trainer.name, startStep: startStep ?? 0 };
  }
  if (options.signal?.aborted) {
    // Killed (or exited) after the abort without reporting: no checkpoint we can vouch for.
    const p = lastProgress as ProgressMessage | null;
    return {
      ...aborted(),
      trainLoss: p?.trainLoss ?? null,
      tokensSeen: p?.tokens ?? 0,
      steps: p?.step ?? 0,
      tokensPerSecond: p?.tokensPerSecond ?? 0,
      reason: killed
        ? `no result within the grace period after SIGTERM; killed`
        : `exited (${exitText}) without a result after SIGTERM`,
    };
  }
  throw new Error(`exec trainer "${trainer.name}" exited (${exitText}) without a result${tail ? `:\n${tail}` : ""}`);
}
