// The reference trainer's CUDA-side options (bf16 autocast, TF32, fused AdamW, torch.compile, batches
// prepared ahead by a thread) must leave a CPU run unchanged, and every run reports its throughput
// as model FLOPs. Runs python/train.py directly on the exec protocol's stdin JSON.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TrialConfig } from "@powersweep/spec";
import { afterAll, describe, expect, it } from "vitest";
import { referenceTorchCommand } from "../src/exec.ts";
import { prepareExecData } from "../src/exec-data.ts";

const [python, trainPy] = referenceTorchCommand() as [string, string];
const torchMissing = spawnSync(python, ["-c", "import torch"]).status !== 0;
if (torchMissing) console.warn(`SKIPPING torch GPU-option tests: ${python} cannot import torch`);

const dir = mkdtempSync(join(tmpdir(), "torch-gpu-options-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config: TrialConfig = {
  model: { name: "d32-L2", dModel: 32, nLayers: 2, nHeads: 2, dHead: 16, mlpHidden: 64, baseWidth: 16 },
  mup: { embMultiplier: 1, residualMultiplier: 1, initStd: 0.02 },
  schedule: { type: "wsd", lr: 0.01, warmupTokens: 512, decayFraction: 0.2, decayShape: "linear" },
  tokens: 256 * 40,
  batchSize: 8,
  seqLen: 32,
  corpus: { type: "sotu" },
  tokenizer: { type: "byte" },
  optimizer: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
  evalTokens: 2048,
  seed: 3,
} as TrialConfig;

type Line = Record<string, unknown> & { type: string };

async function train(args: string[], runtime?: Record<string, unknown>): Promise<{ lines: Line[]; stderr: string }> {
  const data = await prepareExecData(config, join(dir, "data"));
  const job = { config, data, progressIntervalMs: 0, checkpointDir: null, ...(runtime ? { runtime } : {}) };
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("POWERSWEEP_")));
  const r = spawnSync(python, [trainPy, ...args], {
    input: JSON.stringify(job),
    encoding: "utf8",
    env: { ...env, POWERSWEEP_TORCH_THREADS: "1" },
  });
  const lines = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Line);
  return { lines, stderr: r.stderr };
}

const losses = (lines: Line[]) =>
  lines.filter((l) => l.type === "progress").map((l) => [l.step, l.trainLoss, l.evalLoss]);

describe.skipIf(torchMissing)("train.py CUDA options on a CPU", { timeout: 180_000 }, () => {
  it("leave every loss bit-identical, flags or job.runtime, and MFU follows --peak-tflops", async () => {
    const plain = await train([]);
    const flagged = await train([
      "--compile",
      "--bf16",
      "--tf32",
      "--fused-adamw",
      "--prefetch",
      "6",
      "--peak-tflops",
      "2",
    ]);
    const viaJob = await train([], { compile: true, bf16: true, fusedAdamw: true, prefetch: 3 });
    const result = (x: { lines: Line[] }) => x.lines.at(-1) as Line;
    expect(result(plain).type, plain.stderr).toBe("result");
    expect(result(plain).status).toBe("succeeded");
    expect(losses(plain.lines).length).toBeGreaterThan(30); // one progress line per step, then the eval's
    // prefetch > 0 takes the thread path on a CPU too: same windows, same numbers
    expect(losses(flagged.lines)).toEqual(losses(plain.lines));
    expect(losses(viaJob.lines)).toEqual(losses(plain.lines));
    for (const key of ["testLoss", "trainLoss", "tokensSeen", "steps"])
      for (const other of [flagged, viaJob]) expect(result(other)[key]).toBe(result(plain)[key]);
    expect(result(plain).backend).toMatch(/-cpu$/);

    // 6·N for the matmul parameters (L·(d·3A + A·d + d·2h + h·d) + d·V) plus 12·L·A·T
    const perToken = 6 * (2 * (32 * 96 + 32 * 32 + 32 * 128 + 64 * 32) + 32 * 256) + 12 * 2 * 32 * 32;
    expect(result(plain).flopsPerToken).toBe(perToken);
    expect(result(plain).modelFlopsPerSecond).toBeCloseTo(perToken * (result(plain).tokensPerSecond as number), 0);
    expect(result(plain).mfu).toBeNull(); // no known peak for a CPU
    const f = result(flagged);
    expect(f.mfu).toBeCloseTo((f.modelFlopsPerSecond as number) / 2e12, 12);
  });
});
