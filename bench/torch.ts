// The reference PyTorch trainer (packages/trainer/python/train.py) through the exec backend:
// training tokens/s of whole trials on real SOTU bytes, on the configs of docs/environment.md's
// throughput table, measured there with bench/reference/torch-gpt-bench.py (45,582 tok/s for d64-L2-seq128-b16 on 2 CPU threads). Includes what
// a trial really pays per step (batch gather from the token stream, schedule, μP param groups);
// trainer start-up (python + torch import, data files) is reported separately as wall − train time.
import { spawnSync } from "node:child_process";
import type { TrialConfig } from "@powersweep/spec";
import { createExecTrainer, referenceTorchCommand } from "../packages/trainer/src/exec.ts";

const CONFIGS = [
  {
    name: "d64-L2-seq128-b16",
    dModel: 64,
    nLayers: 2,
    nHeads: 2,
    seqLen: 128,
    batchSize: 16,
    steps: 100,
    threads: undefined,
  },
  {
    name: "d64-L2-seq128-b16-1thread",
    dModel: 64,
    nLayers: 2,
    nHeads: 2,
    seqLen: 128,
    batchSize: 16,
    steps: 100,
    threads: 1,
  },
  {
    name: "d128-L4-seq128-b16",
    dModel: 128,
    nLayers: 4,
    nHeads: 2,
    seqLen: 128,
    batchSize: 16,
    steps: 40,
    threads: undefined,
  },
];

/** SwiGLU hidden width as in the reference scripts: 8d/3 rounded up to a multiple of 32. */
const mlpHiddenFor = (d: number) => Math.ceil((8 * d) / 3 / 32) * 32;

export async function run(): Promise<Record<string, unknown>> {
  const [python] = referenceTorchCommand() as [string];
  const probe = spawnSync(python, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" });
  if (probe.status !== 0) return { skipped: `${python} cannot import torch` };
  const out: Record<string, unknown> = { torch: probe.stdout.trim(), referenceTokensPerSecondD64: 45_582 };
  for (const c of CONFIGS) {
    const config: TrialConfig = {
      model: {
        name: c.name,
        dModel: c.dModel,
        nLayers: c.nLayers,
        nHeads: c.nHeads,
        dHead: c.dModel / c.nHeads,
        mlpHidden: mlpHiddenFor(c.dModel),
        baseWidth: 64,
      },
      mup: { embMultiplier: 1, residualMultiplier: 1, initStd: 0.02 },
      schedule: { type: "constant", lr: 3e-3, warmupTokens: 0 },
      tokens: c.steps * c.batchSize * c.seqLen,
      batchSize: c.batchSize,
      seqLen: c.seqLen,
      corpus: { type: "sotu" },
      tokenizer: { type: "byte" },
      optimizer: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
      evalTokens: 16_384,
      seed: 0,
    };
    // threads: POWERSWEEP_TORCH_THREADS (default: all CPUs, 2 here)
    const env = c.threads ? { POWERSWEEP_TORCH_THREADS: String(c.threads) } : {};
    const trainer = createExecTrainer({ name: "torch", command: referenceTorchCommand(), env });
    const started = performance.now();
    const r = await trainer.runTrial(config);
    out[c.name] = {
      status: r.status,
      steps: r.steps,
      tokensPerSecond: Math.round(r.tokensPerSecond),
      testLoss: r.testLoss === null ? null : Number(r.testLoss.toFixed(4)),
      trialWallSeconds: Number(((performance.now() - started) / 1000).toFixed(2)),
      backend: r.backend,
    };
  }
  return out;
}
