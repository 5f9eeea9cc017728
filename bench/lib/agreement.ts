// The trainers' agreement check: the tfjs trainer and the PyTorch reference (python/train.py over
// the exec protocol) run the same lr grid on the same config; each side's η_opt is the parabola
// vertex of its seed-averaged test loss in ln η (packages/fit estimateEtaOpt, as a sweep's fit),
// and the two must agree within AGREEMENT.log2Eta in log₂ η and AGREEMENT.lossNats at the optimum.
// Used by bench/agreement.ts (full size) and packages/trainer/test/agreement.test.ts (reduced).
import { spawnSync } from "node:child_process";
import { estimateEtaOpt } from "@powersweep/fit";
import { TRAINING_DEFAULTS, type TrialConfig } from "@powersweep/spec";
import type { Trainer } from "@powersweep/trainer";
import { createExecTrainer, referenceTorchCommand } from "../../packages/trainer/src/exec.ts";
import { createTfjsTrainer } from "../../packages/trainer/src/tfjs.ts";

export const AGREEMENT = { log2Eta: 1, lossNats: 0.05 };

export interface AgreementSetup {
  tokens: number;
  /** log₂ η of the grid, e.g. [-9, -8, -7, -6, -5]. */
  log2Lrs: number[];
  seeds: number[];
  evalTokens: number;
  /** Threads for the torch side (POWERSWEEP_TORCH_THREADS). */
  torchThreads?: number;
}

/** d64, 2 layers, seq 64, byte-level SOTU, WSD with a 10% exponential decay, β = 8. */
export function agreementConfig(setup: AgreementSetup, lr: number, seed: number): TrialConfig {
  return {
    model: { name: "d64-L2", dModel: 64, nLayers: 2, nHeads: 2, dHead: 32, mlpHidden: 192, baseWidth: 64 },
    mup: TRAINING_DEFAULTS.mup,
    schedule: { type: "wsd", lr, warmupTokens: 0.02 * setup.tokens, decayFraction: 0.1, decayShape: "exponential" },
    tokens: setup.tokens,
    batchSize: 8,
    seqLen: 64,
    corpus: { type: "sotu" },
    tokenizer: { type: "byte" },
    optimizer: TRAINING_DEFAULTS.optimizer,
    evalTokens: setup.evalTokens,
    seed,
  };
}

/** Why the PyTorch side cannot run here, or null. */
export function torchMissing(): string | null {
  const [python] = referenceTorchCommand() as [string];
  const probe = spawnSync(python, ["-c", "import torch"], { encoding: "utf8" });
  return probe.status === 0 ? null : `${python} cannot import torch`;
}

export interface TrainerOutcome {
  trainer: string;
  /** Seed-mean test loss per lr of the grid (null where a seed diverged). */
  meanLoss: Array<{ lr: number; testLoss: number | null; seeds: number[] }>;
  etaOpt: number;
  log2EtaOpt: number;
  lossAtOpt: number;
  method: string;
  extend: string | null;
  wallSeconds: number;
}

export interface AgreementResult {
  setup: AgreementSetup;
  tfjs: TrainerOutcome;
  torch: TrainerOutcome;
  log2EtaOptDiff: number;
  lossAtOptDiff: number;
  /** Mean over the grid of |tfjs − torch| seed-mean test loss (nats). */
  meanAbsLossDiff: number;
  agree: boolean;
}

async function runGrid(trainer: Trainer, setup: AgreementSetup, log?: (s: string) => void): Promise<TrainerOutcome> {
  const started = performance.now();
  const points: Array<{ lr: number; testLoss: number; seed: number }> = [];
  const meanLoss: TrainerOutcome["meanLoss"] = [];
  for (const l2 of setup.log2Lrs) {
    const lr = 2 ** l2;
    const losses: number[] = [];
    for (const seed of setup.seeds) {
      const r = await trainer.runTrial(agreementConfig(setup, lr, seed));
      log?.(`${trainer.name} η=2^${l2} seed=${seed}: ${r.status} test loss ${r.testLoss?.toFixed(4)}`);
      if (r.status === "succeeded" && r.testLoss != null) {
        points.push({ lr, testLoss: r.testLoss, seed });
        losses.push(r.testLoss);
      }
    }
    meanLoss.push({
      lr,
      testLoss: losses.length === setup.seeds.length ? losses.reduce((a, b) => a + b, 0) / losses.length : null,
      seeds: losses,
    });
  }
  const est = estimateEtaOpt(points, { bootstrap: 0 });
  return {
    trainer: trainer.name,
    meanLoss,
    etaOpt: est.etaOpt,
    log2EtaOpt: Math.log2(est.etaOpt),
    lossAtOpt: est.lossAtOpt,
    method: est.method,
    extend: est.extend,
    wallSeconds: (performance.now() - started) / 1000,
  };
}

export async function runAgreement(setup: AgreementSetup, log?: (s: string) => void): Promise<AgreementResult> {
  // Both grids at once: each trainer is single-threaded here, so two cores run them side by side.
  const [tfjs, torch] = await Promise.all([
    runGrid(createTfjsTrainer({ gradientWorker: false }), setup, log),
    runGrid(
      createExecTrainer({
        name: "torch",
        command: referenceTorchCommand(),
        env: { POWERSWEEP_TORCH_THREADS: String(setup.torchThreads ?? 1) },
        log: () => {},
      }),
      setup,
      log,
    ),
  ]);
  const log2EtaOptDiff = Math.abs(tfjs.log2EtaOpt - torch.log2EtaOpt);
  const lossAtOptDiff = Math.abs(tfjs.lossAtOpt - torch.lossAtOpt);
  const diffs = tfjs.meanLoss
    .map((p, i) =>
      p.testLoss != null && torch.meanLoss[i]?.testLoss != null
        ? Math.abs(p.testLoss - (torch.meanLoss[i]?.testLoss as number))
        : null,
    )
    .filter((d): d is number => d !== null);
  return {
    setup,
    tfjs,
    torch,
    log2EtaOptDiff,
    lossAtOptDiff,
    meanAbsLossDiff: diffs.reduce((a, b) => a + b, 0) / Math.max(1, diffs.length),
    agree: log2EtaOptDiff <= AGREEMENT.log2Eta && lossAtOptDiff <= AGREEMENT.lossNats,
  };
}
