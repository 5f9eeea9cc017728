// Offline batches for clusters whose compute nodes cannot reach the API (docs/offline.md):
//   powersweep export <sweep> --out dir/   claim queued trials, write one JSON per trial, a Slurm
//                                          job-array script and a shell runner
//   powersweep import-results dir/         record what the tasks wrote (exactly once)
//   powersweep export --release dir/       import, then give the batch's unrun trials back
// Export and import run where the API is reachable (a login node); only the tasks run on the
// compute nodes, and they need nothing but the directory and the trainer.
import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type { TrialConfig } from "@powersweep/spec";
import { prepareExecData, referenceTorchCommand } from "@powersweep/trainer";
import { ApiClient, type ClientOptions } from "../client.ts";
import { CliError, EXIT_USAGE } from "../errors.ts";

/** The export directory's index: which batch, which sweep, how many tasks, which trainer. */
export interface ExportManifest {
  version: 1;
  batch: string;
  sweepId: string;
  trainer: string;
  /** Task i reads trials/<i>.json and writes results/<i>.jsonl. */
  count: number;
  createdAt: string;
}

/** One task's input: the trial config the trainer receives (exec protocol stdin), plus its ids. */
export interface ExportedTrialFile {
  trialId: string;
  sweepId: string;
  attempt: number;
  batch: string;
  trainer: string;
  config: TrialConfig;
  /** Token files for exec trainers, relative to the export directory. */
  data?: { trainPath: string; testPath: string; dtype: "uint16" | "uint32"; vocabSize: number };
  checkpointDir: null;
  progressIntervalMs: number;
}

/** The trainers an export can run without a worker: the PyTorch reference and the in-process tfjs. */
export const OFFLINE_TRAINERS = ["torch", "tfjs"] as const;

interface ExportResponse {
  sweepId: string;
  batch: string;
  trials: Array<{ trialId: string; sweepId: string; attempt: number; trainer: string; config: TrialConfig }>;
}

interface ImportResponse {
  counts: Record<"recorded" | "duplicate" | "not-held" | "unfinished" | "unknown", number>;
  outcomes: Array<{ trialId: string; attempt: number; outcome: string }>;
}

const newBatchId = () =>
  `${new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}-${randomBytes(3).toString("hex")}`;

// ------------------------------------------------------------------------------------- scripts
/** This CLI as a command that works from any directory (the tfjs tasks' default POWERSWEEP_CLI). */
export const thisCli = () => `node '${resolve(import.meta.dirname, "..", "bin.mjs").replaceAll("'", "'\\''")}'`;

/**
 * run-task.sh: runs task $1 (else SLURM_ARRAY_TASK_ID) and writes results/<i>.jsonl atomically.
 * tfjs tasks run `powersweep train`: POWERSWEEP_CLI, else `cli` (this CLI, where it was exported).
 */
export function taskScript(trainer: string, cli = thisCli()): string {
  const run =
    trainer === "torch"
      ? `"\${POWERSWEEP_PYTHON:-python3}" train.py < "$in" > "$tmp" 2> "logs/$i.err"`
      : `\${POWERSWEEP_CLI:-${cli}} train --config "$in" --trainer tfjs --json < /dev/null > "$tmp" 2> "logs/$i.err"`;
  return `#!/bin/sh
# One trial of this export batch: trials/<i>.json in, results/<i>.jsonl out (the trainer's JSON
# lines: progress, then result or error). The result appears only when the trainer has exited
# (written to a temp name, then renamed), so \`powersweep import-results\` never reads half a file.
# A task whose result exists is not run again.
set -u
cd "$(dirname "$0")"
i="\${1:-\${SLURM_ARRAY_TASK_ID:-}}"
if [ -z "$i" ]; then echo "usage: run-task.sh <index> (or run under sbatch --array)" >&2; exit 2; fi
in="trials/$i.json"
out="results/$i.jsonl"
if [ ! -f "$in" ]; then echo "run-task.sh: no $in" >&2; exit 2; fi
if [ -f "$out" ]; then echo "trial $i already has $out"; exit 0; fi
mkdir -p results logs
tmp="results/.$i.jsonl.$$"
${run}
rc=$?
mv "$tmp" "$out"
exit $rc
`;
}

/** run-all.sh [-j N]: every task, N at a time (default 1). */
export function runAllScript(count: number): string {
  return `#!/bin/sh
# Runs every trial of this batch on this machine: sh run-all.sh [-j N] (N trials at a time).
set -u
cd "$(dirname "$0")"
jobs=1
if [ "\${1:-}" = "-j" ]; then jobs="\${2:?-j needs a number}"; fi
seq 0 ${count - 1} | xargs -P "$jobs" -n 1 sh ./run-task.sh
`;
}

/** slurm.sbatch: one array task per trial; `extra` lines are added as #SBATCH options. */
export function sbatchScript(manifest: ExportManifest, extra: string[]): string {
  return `#!/bin/sh
#SBATCH --job-name=powersweep-${manifest.batch}
#SBATCH --array=0-${manifest.count - 1}
#SBATCH --output=logs/slurm-%A_%a.out
${extra.map((o) => `#SBATCH ${o}`).join("\n")}${extra.length ? "\n" : ""}# Submit from this directory: sbatch slurm.sbatch (add --array=0-${manifest.count - 1}%K to run at most K at once).
cd "\${POWERSWEEP_EXPORT_DIR:-\${SLURM_SUBMIT_DIR:-.}}"
exec sh ./run-task.sh "$SLURM_ARRAY_TASK_ID"
`;
}

// ------------------------------------------------------------------------------------- export
export async function exportSweep(
  g: ClientOptions,
  sweepId: string,
  o: { out: string; batch?: string; limit?: string; sbatch?: string[]; json?: boolean },
) {
  const out = resolve(o.out);
  if (existsSync(out) && readdirSync(out).length)
    throw new CliError(`--out ${o.out}: the directory is not empty (one export batch per directory)`, EXIT_USAGE);
  const limit = o.limit === undefined ? undefined : Number(o.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1))
    throw new CliError(`--limit: expected a positive integer, got "${o.limit}"`, EXIT_USAGE);
  const batch = o.batch ?? newBatchId();
  const client = new ApiClient(g);
  const res = await client.post<ExportResponse>(`/v1/sweeps/${encodeURIComponent(sweepId)}/export`, {
    batch,
    ...(limit ? { limit } : {}),
  });
  if (!res.trials.length) {
    if (o.json) console.log(JSON.stringify({ batch, sweepId, count: 0 }));
    else console.log(`sweep ${sweepId} has no queued trials: nothing exported`);
    return;
  }
  try {
    const manifest = await writeExport(out, res, o.sbatch ?? []);
    if (o.json) return console.log(JSON.stringify({ ...manifest, out }));
    const rel = relative(process.cwd(), out) || ".";
    console.log(
      `exported ${manifest.count} trials of sweep ${sweepId} as batch ${batch} (trainer ${manifest.trainer}) to ${rel}
  workers will not run them until they are imported or released
  run:     sh ${rel}/run-all.sh -j 4         or on Slurm: cd ${rel} && sbatch slurm.sbatch
  import:  powersweep import-results ${rel}   (repeat as results arrive; a re-import adds nothing)
  release: powersweep export --release ${rel} (imports, then gives unrun trials back to the workers)`,
    );
  } catch (err) {
    // nothing half-written: the claimed trials go back to the queue
    await client.post("/v1/offline/release", { batch }).catch(() => {});
    throw err;
  }
}

async function writeExport(out: string, res: ExportResponse, sbatch: string[]): Promise<ExportManifest> {
  const trainers = new Set(res.trials.map((t) => t.trainer));
  const trainer = res.trials[0]?.trainer ?? "torch";
  if (trainers.size !== 1 || !(OFFLINE_TRAINERS as readonly string[]).includes(trainer))
    throw new CliError(
      `sweep ${res.sweepId} uses trainer "${[...trainers].join(", ")}"; an export runs ${OFFLINE_TRAINERS.join(" or ")}`,
    );
  for (const d of ["trials", "results", "logs"]) mkdirSync(join(out, d), { recursive: true });
  const dataDir = join(out, "data");
  for (const [i, t] of res.trials.entries()) {
    const file: ExportedTrialFile = {
      trialId: t.trialId,
      sweepId: t.sweepId,
      attempt: t.attempt,
      batch: res.batch,
      trainer,
      config: t.config,
      checkpointDir: null,
      progressIntervalMs: 1000,
    };
    if (trainer === "torch") {
      // the same token files a worker's exec trainer reads, inside the directory (paths relative to it)
      const data = await prepareExecData(t.config, dataDir);
      const rel = (p: string) => (p.startsWith(dataDir) ? relative(out, p) : p);
      file.data = { ...data, trainPath: rel(data.trainPath), testPath: rel(data.testPath) };
    }
    writeFileSync(join(out, "trials", `${i}.json`), `${JSON.stringify(file, null, 2)}\n`);
  }
  if (trainer === "torch") copyFileSync(referenceTorchCommand().at(-1) as string, join(out, "train.py"));
  const manifest: ExportManifest = {
    version: 1,
    batch: res.batch,
    sweepId: res.sweepId,
    trainer,
    count: res.trials.length,
    createdAt: new Date().toISOString(),
  };
  const script = (name: string, text: string) => {
    writeFileSync(join(out, name), text);
    chmodSync(join(out, name), 0o755);
  };
  script("run-task.sh", taskScript(trainer));
  script("run-all.sh", runAllScript(manifest.count));
  script("slurm.sbatch", sbatchScript(manifest, sbatch));
  writeFileSync(join(out, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`); // last: the export is complete
  return manifest;
}

// ------------------------------------------------------------------------------------- import
/** What one task wrote, as the import sends it. */
export interface TaskOutcome {
  result?: Record<string, unknown> & { status: string };
  error?: { class: string; message: string };
  metrics: Array<{
    step: number;
    tokens: number;
    lr: number | null;
    trainLoss: number | null;
    evalLoss?: number | null;
  }>;
}

/**
 * Reads a task's output (exec protocol JSON lines; other lines ignored): progress lines become
 * metrics, the result or error line the outcome. A file with neither is a crash.
 */
export function parseTaskOutput(text: string): TaskOutcome {
  const out: TaskOutcome = { metrics: [] };
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (m.type === "progress" && typeof m.step === "number" && typeof m.tokens === "number")
      out.metrics.push({
        step: m.step,
        tokens: m.tokens,
        lr: typeof m.lr === "number" ? m.lr : null,
        trainLoss: typeof m.trainLoss === "number" ? m.trainLoss : null,
        ...(m.evalLoss !== undefined ? { evalLoss: typeof m.evalLoss === "number" ? m.evalLoss : null } : {}),
      });
    else if (m.type === "result" && typeof m.status === "string") {
      const { type: _type, ...rest } = m;
      out.result = rest as TaskOutcome["result"];
    } else if (m.type === "error")
      out.error = { class: String(m.class ?? "crash"), message: String(m.message ?? "error") };
  }
  // progress lines repeat a step (the final one carries evalLoss): the last one per step wins
  const byStep = new Map(out.metrics.map((p) => [p.step, p]));
  out.metrics = [...byStep.values()];
  if (!out.result && !out.error) out.error = { class: "crash", message: "the trainer exited without a result" };
  return out;
}

function readManifest(dir: string): ExportManifest {
  const path = join(dir, "manifest.json");
  try {
    return JSON.parse(readFileSync(path, "utf8")) as ExportManifest;
  } catch (err) {
    throw new CliError(
      `${path}: not an export directory (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      EXIT_USAGE,
    );
  }
}

const RESULT_FIELDS = [
  "status",
  "trainLoss",
  "testLoss",
  "testPerplexity",
  "tokensSeen",
  "wallSeconds",
  "tokensPerSecond",
  "reason",
];

export async function importResults(
  g: ClientOptions,
  dirArg: string,
  o: { json?: boolean; release?: boolean; chunk?: number },
) {
  const dir = resolve(dirArg);
  const manifest = readManifest(dir);
  const client = new ApiClient(g);
  const results: unknown[] = [];
  let notRun = 0;
  for (let i = 0; i < manifest.count; i++) {
    const path = join(dir, "results", `${i}.jsonl`);
    if (!existsSync(path)) {
      notRun++;
      continue;
    }
    const trial = JSON.parse(readFileSync(join(dir, "trials", `${i}.json`), "utf8")) as ExportedTrialFile;
    const task = parseTaskOutput(readFileSync(path, "utf8"));
    const result = task.result
      ? Object.fromEntries(Object.entries(task.result).filter(([k]) => RESULT_FIELDS.includes(k)))
      : undefined;
    results.push({
      trialId: trial.trialId,
      attempt: trial.attempt,
      ...(result ? { result } : { error: task.error }),
      metrics: task.metrics,
    });
  }
  const counts = { recorded: 0, duplicate: 0, "not-held": 0, unfinished: 0, unknown: 0 };
  const chunk = o.chunk ?? 200;
  for (let i = 0; i < results.length; i += chunk) {
    const r = await client.post<ImportResponse>("/v1/offline/import", { results: results.slice(i, i + chunk) });
    for (const [k, v] of Object.entries(r.counts)) counts[k as keyof typeof counts] += v;
  }
  let released: string[] = [];
  if (o.release)
    released = (await client.post<{ released: string[] }>("/v1/offline/release", { batch: manifest.batch })).released;
  const report = { batch: manifest.batch, sweepId: manifest.sweepId, count: manifest.count, notRun, ...counts };
  if (o.json) return console.log(JSON.stringify(o.release ? { ...report, released: released.length } : report));
  console.log(
    `batch ${manifest.batch}: ${counts.recorded} recorded now, ${counts.duplicate} already recorded, ${notRun} not run yet, ` +
      `${counts.unfinished} crashed or stopped (still held)` +
      (counts["not-held"] ? `, ${counts["not-held"]} refused (no longer held by this batch)` : "") +
      (counts.unknown ? `, ${counts.unknown} unknown trials` : ""),
  );
  if (o.release) console.log(`released ${released.length} unfinished trials back to the workers`);
  else if (notRun || counts.unfinished)
    console.log(`  the rest stay held by the batch; \`powersweep export --release ${dirArg}\` gives them back`);
}

/** `powersweep export <sweep> --out dir` or `powersweep export --release dir`. */
export async function exportCommand(
  g: ClientOptions,
  sweep: string | undefined,
  o: { out?: string; batch?: string; limit?: string; sbatch?: string[]; release?: string; json?: boolean },
) {
  if (o.release) {
    if (sweep || o.out) throw new CliError("export --release <dir> takes no sweep and no --out", EXIT_USAGE);
    return importResults(g, o.release, { json: o.json, release: true });
  }
  if (!sweep) throw new CliError("export: give a sweep id (or --release <dir>)", EXIT_USAGE);
  if (!o.out) throw new CliError("export: --out <dir> is required", EXIT_USAGE);
  return exportSweep(g, sweep, { ...o, out: o.out });
}
