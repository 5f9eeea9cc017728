// Benchmark: fitSweep on 100k result rows (2 models × 8 T × 6 β × 12 lr × 87 seeds = 100,224).
// Target: under 1 s with the default bootstraps (200 per η_opt group, 1000 per law).
import { type FitRow, fitSweep, mulberry32, normal } from "@powersweep/fit";

export async function run(): Promise<Record<string, unknown>> {
  const rand = mulberry32(42);
  const rows: FitRow[] = [];
  const tokensGrid = [2e9, 4e9, 8e9, 16e9, 32e9, 64e9, 128e9, 256e9];
  const batchSizes = [16, 32, 64, 128, 256, 512];
  for (const model of ["12M", "36M"])
    for (const tokens of tokensGrid)
      for (const batchSize of batchSizes) {
        const etaStar = batchSize * 4.6 * tokens ** -0.51; // eq. 6
        for (let k = 0; k < 12; k++) {
          const lr = etaStar * 2 ** (k - 6 + 0.3);
          const u = Math.log(lr / etaStar);
          for (let seed = 0; seed < 87; seed++)
            rows.push({
              model,
              tokens,
              batchSize,
              lr,
              seed,
              testLoss: 3 + 0.1 * u * u + 0.03 * normal(rand),
              status: "succeeded",
            });
        }
      }
  // First call includes JIT warm-up (what a fresh fitter process pays); then the median of 3 warm calls.
  let t0 = performance.now();
  let fit = fitSweep(rows);
  const coldSeconds = (performance.now() - t0) / 1000;
  const warm: number[] = [];
  for (let i = 0; i < 3; i++) {
    t0 = performance.now();
    fit = fitSweep(rows);
    warm.push((performance.now() - t0) / 1000);
  }
  const fitSeconds = warm.sort((p, q) => p - q)[1] as number;
  return {
    rows: rows.length,
    groups: fit.etaOpt.length,
    fitSeconds,
    coldSeconds,
    pooledA: fit.law.pooled?.a ?? null,
    pooledB: fit.law.pooled?.b ?? null,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) run().then((r) => console.log(r));
