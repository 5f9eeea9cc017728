// Synthetic sweeps with known truth: loss(η) = L0(T, β) + s·u² + c·u³ + N(0, σ²), u = ln η − ln η*,
// η* = β·a·T^b (eq. 6). L0 grows with |log2 β − log2 B_opt(T)| so "3 best batch sizes" and B_opt(T)
// are well defined, with B_opt(T) = bOptC·T^bOptD (Time Transfer: optimal batch grows with T).
import type { FitRow } from "../src/index.ts";
import { mulberry32, normal } from "../src/index.ts";

export interface SynthModel {
  name: string;
  a: number;
  b: number;
}

export interface SynthOptions {
  models: SynthModel[];
  tokens?: number[];
  batchSizes?: number[];
  /** Grid of lrs; default 1e-5·2^k, k = 0..13 (covers every η* of the default T, β). */
  lrs?: number[];
  seeds?: number;
  sigma?: number;
  curvature?: number;
  cubic?: number;
  rngSeed?: number;
  bOptC?: number;
  bOptD?: number;
}

export const PAPER_TOKENS = [2e9, 4e9, 8e9, 16e9, 32e9, 64e9, 128e9, 256e9];
export const PAPER_BATCH_SIZES = [16, 32, 64, 128, 256, 512];
export const DEFAULT_LRS = Array.from({ length: 14 }, (_, k) => 1e-5 * 2 ** k);

export function synthSweep(o: SynthOptions): FitRow[] {
  const rand = mulberry32(o.rngSeed ?? 1);
  const tokens = o.tokens ?? PAPER_TOKENS;
  const batchSizes = o.batchSizes ?? PAPER_BATCH_SIZES;
  const lrs = o.lrs ?? DEFAULT_LRS;
  const seeds = o.seeds ?? 2;
  const sigma = o.sigma ?? 0.03;
  const s = o.curvature ?? 0.1;
  const c = o.cubic ?? 0.01;
  const bOptC = o.bOptC ?? 32 / Math.sqrt(2e9);
  const bOptD = o.bOptD ?? 0.5;
  const rows: FitRow[] = [];
  for (const m of o.models)
    for (const T of tokens)
      for (const beta of batchSizes) {
        const etaStar = beta * m.a * T ** m.b;
        const dB = Math.log2(beta) - Math.log2(bOptC * T ** bOptD);
        const l0 = 2 + 20 * T ** -0.1 + 0.02 * dB * dB;
        for (const lr of lrs) {
          const u = Math.log(lr) - Math.log(etaStar);
          for (let seed = 0; seed < seeds; seed++)
            rows.push({
              model: m.name,
              tokens: T,
              batchSize: beta,
              lr,
              seed,
              testLoss: l0 + s * u * u + c * u * u * u + sigma * normal(rand),
              status: "succeeded",
            });
        }
      }
  return rows;
}

export interface SynthEtaCellsOptions {
  /** γ = a·T^b truth (default a = 3.0, b = −0.48). */
  a?: number;
  b?: number;
  /** Token budgets (default 4 over two decades: 1e6·10^(2j/3)). */
  tokens?: number[];
  /** Batch sizes in sequences (default 8, 16, 32, 64). */
  batchSizes?: number[];
  /** lrs per cell (default 9, factors of 2). */
  nLrs?: number;
  seeds?: number;
  /** Run-to-run noise sd of the test loss (default 0.02 nats). */
  sigma?: number;
  /** Curvature k of loss = L0 + k·(ln η − ln η*)² (default 0.1). */
  curvature?: number;
  rngSeed?: number;
}

/**
 * The η_opt coverage setting: loss = L0 + k·(ln η − ln η*)² + N(0, σ²), η* = β·a·T^b (eq. 6),
 * on a per-cell grid of nLrs lrs in factors of 2 placed at a random offset (uniform over ±1.5
 * grid steps) around η*, as a sweep centred on a guessed law would be. Returns rows with their
 * cell's truth.
 */
export function synthEtaCells(o: SynthEtaCellsOptions = {}): { rows: FitRow[]; etaStar: Map<string, number> } {
  const rand = mulberry32(o.rngSeed ?? 1);
  const a = o.a ?? 3.0;
  const b = o.b ?? -0.48;
  const tokens = o.tokens ?? [0, 1, 2, 3].map((j) => 1e6 * 10 ** ((2 * j) / 3));
  const batchSizes = o.batchSizes ?? [8, 16, 32, 64];
  const nLrs = o.nLrs ?? 9;
  const seeds = o.seeds ?? 1;
  const sigma = o.sigma ?? 0.02;
  const k = o.curvature ?? 0.1;
  const rows: FitRow[] = [];
  const etaStar = new Map<string, number>();
  for (const T of tokens)
    for (const beta of batchSizes) {
      const star = beta * a * T ** b;
      etaStar.set(`${T}/${beta}`, star);
      const l0 = 2 + 20 * T ** -0.1;
      const offset = (rand() - 0.5) * 3;
      for (let i = 0; i < nLrs; i++) {
        const lr = star * 2 ** (i - (nLrs - 1) / 2 + offset);
        const u = Math.log(lr / star);
        for (let seed = 0; seed < seeds; seed++)
          rows.push({
            model: "m",
            tokens: T,
            batchSize: beta,
            lr,
            seed,
            testLoss: l0 + k * u * u + sigma * normal(rand),
            status: "succeeded",
          });
      }
    }
  return { rows, etaStar };
}
