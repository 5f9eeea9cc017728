// The trainers' agreement check at full size (issue 14's "Must show"): tfjs and the PyTorch
// reference on d64, 2 layers, seq 64, byte SOTU, WSD, T = 200k, β = 8, η ∈ 2^−9 … 2^−5, 2 seeds.
// η_opt must agree within 1 in log₂ and the loss at the optimum within 0.05 nats (seed-averaged).
// `npm run bench -- agreement`; about 20 trials of 391 steps on each side.
import { AGREEMENT, runAgreement, torchMissing } from "./lib/agreement.ts";

export async function run(): Promise<Record<string, unknown>> {
  const missing = torchMissing();
  if (missing) return { skipped: `PyTorch reference not available: ${missing}` };
  const r = await runAgreement(
    { tokens: 200_000, log2Lrs: [-9, -8, -7, -6, -5], seeds: [0, 1], evalTokens: 16_384, torchThreads: 1 },
    (line) => console.log(line),
  );
  return { thresholds: AGREEMENT, ...r };
}
