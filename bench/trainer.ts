// Trainer throughput: tokens/s of one training step (forward + backward + AdamW) of the μP GPT
// on the default tfjs backend, for the two configs of docs/environment.md's throughput table, and — when PyTorch is
// importable — the reference torch script on the same configs (2 threads, OpenBLAS as train.py sets it)
// and the ratio tfjs/torch (the median over alternating rounds, see ROUNDS). Synthetic uniform
// tokens, byte vocab 256 (speed does not depend on data).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { createAdamW, createGPT, initBackend, trainStep } from "@powersweep/model";
import { referenceTorchCommand } from "../packages/trainer/src/exec.ts";
import { median } from "./lib/stats.ts";

/** The Python the torch trainer uses (Debian's python3-torch lives under /usr/bin), and its script. */
const [PYTHON, TRAIN_PY] = referenceTorchCommand() as [string, string];

interface BenchConfig {
  name: string;
  dModel: number;
  nLayers: number;
  nHeads: number;
  seqLen: number;
  batchSize: number;
}

const CONFIGS: BenchConfig[] = [
  { name: "d64-L2-seq128-b16", dModel: 64, nLayers: 2, nHeads: 2, seqLen: 128, batchSize: 16 },
  { name: "d128-L4-seq128-b16", dModel: 128, nLayers: 4, nHeads: 2, seqLen: 128, batchSize: 16 },
];
const VOCAB = 256;
const WARM_STEPS = 3;
const TIMED_SECONDS = 4; // time at least this long (and at least 5 steps) per round
/**
 * tfjs and the reference alternate this many times per config, and the figures are the medians:
 * this machine's speed drifts by ±20% within a minute, so a single tfjs-then-torch pair could put
 * the two on differently fast minutes.
 */
const ROUNDS = 3;
const TORCH_SCRIPT = join(import.meta.dirname, "reference", "torch-gpt-bench.py");

/** SwiGLU hidden width as in the reference scripts: 8d/3 rounded up to a multiple of 32. */
const mlpHiddenFor = (d: number) => Math.ceil((8 * d) / 3 / 32) * 32;

function tfjsTokensPerSecond(c: BenchConfig): { tokensPerSecond: number; msPerStep: number; steps: number } {
  const model = createGPT(
    {
      name: c.name,
      dModel: c.dModel,
      nLayers: c.nLayers,
      nHeads: c.nHeads,
      dHead: c.dModel / c.nHeads,
      mlpHidden: mlpHiddenFor(c.dModel),
      baseWidth: 64,
      embMultiplier: 10,
      residualMultiplier: 0.25,
      initStd: 0.02,
      vocabSize: VOCAB,
      seqLen: c.seqLen,
    },
    0,
  );
  const optimizer = createAdamW(model, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  let s = 1;
  const next = () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return (s >>> 16) % VOCAB;
  };
  const random = () => Int32Array.from({ length: c.batchSize * c.seqLen }, next);
  const step = () => trainStep(model, optimizer, random(), random(), c.batchSize, 3e-3);
  for (let i = 0; i < WARM_STEPS; i++) step();
  const started = performance.now();
  let steps = 0;
  while (steps < 5 || performance.now() - started < TIMED_SECONDS * 1000) {
    step();
    steps++;
  }
  const seconds = (performance.now() - started) / 1000;
  optimizer.dispose();
  model.dispose();
  return { tokensPerSecond: (steps * c.batchSize * c.seqLen) / seconds, msPerStep: (seconds * 1000) / steps, steps };
}

/**
 * The environment for the reference script, or null when the script is missing or PyTorch is not
 * importable. It carries the OpenBLAS settings the reference trainer gives itself (1 BLAS thread;
 * the kernel family from the CPU's instruction set, where OpenBLAS would fall back to SSE3 kernels
 * on a CPU model it does not know), so the reference is PyTorch at its best here. A kernel family
 * inherited from this shell is not passed on: a machine set to Haswell's AVX2 kernels on an AVX-512
 * CPU ran the reference 1.4× slower than the family its flags support (reported as
 * torchOpenblasInherited).
 */
function torchReferenceEnv(): Record<string, string> | null {
  if (!existsSync(TORCH_SCRIPT)) return null;
  try {
    execFileSync(PYTHON, ["-c", "import torch"], { stdio: "ignore" });
  } catch {
    return null;
  }
  const { OPENBLAS_CORETYPE: _inherited, ...env } = process.env;
  return JSON.parse(execFileSync(PYTHON, [TRAIN_PY, "--print-openblas-env"], { encoding: "utf8", env }));
}

function torchTokensPerSecond(c: BenchConfig, openblas: Record<string, string>): number {
  const args = [
    "--d",
    c.dModel,
    "--L",
    c.nLayers,
    "--H",
    c.nHeads,
    "--T",
    c.seqLen,
    "--B",
    c.batchSize,
    "--V",
    VOCAB,
    "--steps",
    20,
    "--threads",
    2,
  ];
  const out = execFileSync(PYTHON, [TORCH_SCRIPT, ...args.map(String)], {
    env: { ...process.env, ...openblas },
    encoding: "utf8",
  });
  const line = out.trim().split("\n").at(-1) ?? "{}";
  return (JSON.parse(line) as { tokPerSec: number }).tokPerSec;
}

export async function run(): Promise<Record<string, unknown>> {
  const backend = await initBackend();
  // Other processes on this 2-core machine distort the numbers: record the load they ran under.
  const results: Record<string, unknown> = { backend, loadAverage1mBefore: loadavg()[0] };
  const openblas = torchReferenceEnv();
  for (const c of CONFIGS) {
    const rounds = Array.from({ length: ROUNDS }, () => {
      const tfjs = tfjsTokensPerSecond(c);
      const torch = openblas ? torchTokensPerSecond(c, openblas) : null;
      return { tfjs, torch, ratio: torch ? tfjs.tokensPerSecond / torch : null };
    });
    const tfjs = median(rounds.map((r) => r.tfjs.tokensPerSecond));
    const torch = openblas ? median(rounds.map((r) => r.torch as number)) : null;
    const ratios = rounds.flatMap((r) => (r.ratio === null ? [] : [+r.ratio.toFixed(3)]));
    results[c.name] = {
      tfjsTokensPerSecond: Math.round(tfjs),
      tfjsMsPerStep: +((1000 * c.batchSize * c.seqLen) / tfjs).toFixed(1),
      timedSteps: rounds.reduce((n, r) => n + r.tfjs.steps, 0),
      torchTokensPerSecond: torch === null ? null : Math.round(torch),
      // the median of the rounds' ratios (each tfjs round beside the torch run that follows it)
      ratioTfjsOverTorch: ratios.length ? median(ratios) : null,
      roundRatios: ratios.length ? ratios : undefined,
      note: torch ? undefined : `${PYTHON}: torch not importable here: no torch reference measured`,
    };
  }
  if (openblas) results.torchOpenblas = openblas;
  if (openblas && process.env.OPENBLAS_CORETYPE) results.torchOpenblasInherited = process.env.OPENBLAS_CORETYPE;
  results.loadAverage1mAfter = loadavg()[0];
  return results;
}
