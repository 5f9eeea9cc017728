// Tissue et al., "Scaling Law with Learning Rate Annealing" (arXiv 2408.11029):
//
//   L(s) = L0 + A·S1^(−α) − C·S2
//   S1 = Σ_{i ≤ s} η_i                      forward area (warmup included)
//   m_i = λ·m_{i−1} + (η_{i−1} − η_i)        annealing momentum, decay factor λ (paper: 0.999)
//   S2 = Σ_{i ≤ s} m_i                      annealing area
//
// η_{i−1} − η_i counts only after warmup (lrDecrements), so a rising warmup lr does not count as
// negative annealing. Areas are in lr × optimiser updates (see areas.ts).
import { type LrTrace, lrDecrements } from "./areas.ts";

export interface TissueParams {
  L0: number;
  A: number;
  alpha: number;
  C: number;
}

/** Paper's default decay factor of the annealing momentum. */
export const TISSUE_LAMBDA = 0.999;

/** S2 after u updates at index u (S2[0] = 0). */
export function annealingArea(trace: LrTrace, lambda = TISSUE_LAMBDA): Float64Array {
  const dec = lrDecrements(trace);
  const s2 = new Float64Array(trace.steps + 1);
  let m = 0;
  for (let i = 1; i <= trace.steps; i++) {
    m = lambda * m + (dec[i - 1] as number);
    s2[i] = (s2[i - 1] as number) + m;
  }
  return s2;
}

/** The law's loss after u updates (u ≥ 1), given the run's trace and annealing area. */
export function tissueLoss(p: TissueParams, trace: LrTrace, s2: Float64Array, u: number): number {
  const s1 = trace.area[u] as number;
  return p.L0 + p.A * s1 ** -p.alpha - p.C * (s2[u] as number);
}
