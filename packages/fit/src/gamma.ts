// γ = η_opt / β (eq. 3), averaged over the 3 best batch sizes per (model, T) (2408.13359 §3 procedure).
import type { EtaOptEstimate } from "./etaOpt.ts";

export interface EtaOptGroup extends EtaOptEstimate {
  model: string;
  tokens: number;
  batchSize: number;
  /** Rows in this group that diverged / otherwise failed (not used in the fit, counted). */
  nDiverged: number;
  nFailed: number;
}

export interface GammaRow {
  model: string;
  tokens: number;
  /** Arithmetic mean of η_opt/β over the batch sizes used (as the paper averages). */
  gamma: number;
  /** Geometric mean of the same γ's, for comparison. */
  gammaGeoMean: number;
  batchSizesUsed: number[];
  gammas: number[];
}

export interface GammaOptions {
  /** Best batch sizes kept per (model, T), by lossAtOpt (default 3). */
  topK?: number;
  /** Use groups whose optimum is on the grid edge (default false). */
  includeEdge?: boolean;
}

const key = (model: string, tokens: number) => `${model}\u0000${tokens}`;

export function gammaTable(etaOpts: EtaOptGroup[], opts: GammaOptions = {}): GammaRow[] {
  const topK = Math.max(1, Math.floor(opts.topK ?? 3));
  const groups = new Map<string, EtaOptGroup[]>();
  for (const g of etaOpts) {
    if (g.onEdge && !opts.includeEdge) continue;
    const k = key(g.model, g.tokens);
    const list = groups.get(k);
    if (list) list.push(g);
    else groups.set(k, [g]);
  }
  const rows: GammaRow[] = [];
  for (const list of groups.values()) {
    const best = list
      .slice()
      .sort((p, q) => p.lossAtOpt - q.lossAtOpt)
      .slice(0, topK);
    const gammas = best.map((g) => g.etaOpt / g.batchSize);
    const first = best[0] as EtaOptGroup;
    rows.push({
      model: first.model,
      tokens: first.tokens,
      gamma: gammas.reduce((s, x) => s + x, 0) / gammas.length,
      gammaGeoMean: Math.exp(gammas.reduce((s, x) => s + Math.log(x), 0) / gammas.length),
      batchSizesUsed: best.map((g) => g.batchSize),
      gammas,
    });
  }
  return rows.sort((p, q) => (p.model < q.model ? -1 : p.model > q.model ? 1 : p.tokens - q.tokens));
}
