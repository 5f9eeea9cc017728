// Luo et al., "A Multi-Power Law for Loss Curve Prediction Across Learning Rate Schedules"
// (arXiv 2503.12811):
//
//   L(t) = L0 + A·(S1(t) + S_W)^(−α) − LD(t)
//   LD(t) = B·Σ_{k=1..t} (η_{k−1} − η_k)·G(η_k^(−γ)·S_k(t)),   S_k(t) = Σ_{τ=k..t} η_τ
//   G(x) = 1 − (C·x + 1)^(−β)
//
// t counts updates after warmup, S_W is the warmup's area, so S1(t) + S_W is the whole forward
// area after the update (area[u] in areas.ts) and k runs over post-warmup updates with η_0 the first
// post-warmup lr. Areas are in lr × optimiser updates.
import { type LrTrace, lrDecrements } from "./areas.ts";

export interface MultiPowerParams {
  L0: number;
  A: number;
  alpha: number;
  B: number;
  C: number;
  beta: number;
  gamma: number;
}

/** The updates k where η dropped (Δ_k ≠ 0) and the drops, for the LD sum. */
export interface LrDrops {
  k: Int32Array;
  drop: Float64Array;
  /** η_k at those updates. */
  lr: Float64Array;
}

export function lrDrops(trace: LrTrace): LrDrops {
  const dec = lrDecrements(trace);
  const ks: number[] = [];
  for (let i = 1; i <= trace.steps; i++) if (dec[i - 1] !== 0) ks.push(i);
  return {
    k: Int32Array.from(ks),
    drop: Float64Array.from(ks, (i) => dec[i - 1] as number),
    lr: Float64Array.from(ks, (i) => trace.lrs[i - 1] as number),
  };
}

/** LD(u) without the factor B: Σ_{k ≤ u} Δ_k·G(η_k^(−γ)·S_k(u)). */
export function lossDropSum(
  p: Pick<MultiPowerParams, "C" | "beta" | "gamma">,
  trace: LrTrace,
  drops: LrDrops,
  u: number,
): number {
  const areaU = trace.area[u] as number;
  let sum = 0;
  for (let j = 0; j < drops.k.length; j++) {
    const k = drops.k[j] as number;
    if (k > u) break;
    const sk = areaU - (trace.area[k - 1] as number); // Σ_{τ=k..u} η_τ
    const x = (drops.lr[j] as number) ** -p.gamma * sk;
    sum += (drops.drop[j] as number) * (1 - (p.C * x + 1) ** -p.beta);
  }
  return sum;
}

/** The law's loss after u updates (u ≥ 1). */
export function multiPowerLoss(p: MultiPowerParams, trace: LrTrace, drops: LrDrops, u: number): number {
  return p.L0 + p.A * (trace.area[u] as number) ** -p.alpha - p.B * lossDropSum(p, trace, drops, u);
}
