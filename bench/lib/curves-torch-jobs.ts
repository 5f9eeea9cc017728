// Writes the exec-protocol jobs of the loss-curve benchmark's PyTorch runs (bench/data/curves-torch.json
// holds their results): the token files of byte-level SOTU (packages/data's split, as every backend
// sees it) and one job per run, for bench/lib/curves-torch.py to train on a GPU machine.
//   tsx --conditions=source bench/lib/curves-torch-jobs.ts <dir> [--tiny]
// --tiny: the same plan at 1/64 of the tokens, to check the driver on a CPU first.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EVAL_SUBSET_EVERY } from "@powersweep/data";
import { TRAINING_DEFAULTS, type TrialConfig } from "@powersweep/spec";
import { execEvalWindows } from "../../packages/trainer/src/exec.ts";
import { prepareExecData } from "../../packages/trainer/src/exec-data.ts";
import { TORCH_SETUP, torchPlan } from "../curves.ts";

const [dir, flag] = process.argv.slice(2);
if (!dir) throw new Error("usage: curves-torch-jobs.ts <dir> [--tiny]");
const scale = flag === "--tiny" ? 1 / 64 : 1;
mkdirSync(dir, { recursive: true });
const jobs: Array<{ id: string; job: Record<string, unknown> }> = [];
let data: Awaited<ReturnType<typeof prepareExecData>> | null = null;
for (const run of torchPlan()) {
  const tokens = Math.round(run.tokens * scale);
  const config: TrialConfig = {
    model: TORCH_SETUP.model,
    mup: TRAINING_DEFAULTS.mup,
    schedule:
      scale === 1 ? run.schedule : { ...run.schedule, warmupTokens: Math.round(run.schedule.warmupTokens * scale) },
    tokens,
    batchSize: TORCH_SETUP.batchSize,
    seqLen: TORCH_SETUP.seqLen,
    corpus: { type: "sotu" },
    tokenizer: { type: "byte" },
    optimizer: TRAINING_DEFAULTS.optimizer,
    evalTokens: TORCH_SETUP.evalTokens,
    seed: run.seed,
  };
  if (!data) {
    const d = await prepareExecData(config, join(dir, "cache"));
    copyFileSync(d.trainPath, join(dir, "train.bin"));
    copyFileSync(d.testPath, join(dir, "test.bin"));
    data = { ...d, trainPath: "train.bin", testPath: "test.bin" };
  }
  const windows = await execEvalWindows(config, { ...data, testPath: join(dir, "test.bin") });
  jobs.push({
    id: `${run.schedule.type}-${"decayShape" in run.schedule ? run.schedule.decayShape : "none"}-T${tokens}-lr${run.schedule.lr}-s${run.seed}`,
    job: {
      config,
      checkpointDir: null,
      checkpointEveryTokens: null,
      progressIntervalMs: 3_600_000,
      data,
      evalWindows: windows,
      evalSubsetEvery: EVAL_SUBSET_EVERY,
    },
  });
}
writeFileSync(join(dir, "jobs.json"), JSON.stringify(jobs));
console.log(
  `${jobs.length} jobs, ${jobs.reduce((s, j) => s + (j.job.config as TrialConfig).tokens / (TORCH_SETUP.batchSize * TORCH_SETUP.seqLen), 0)} steps → ${dir}`,
);
