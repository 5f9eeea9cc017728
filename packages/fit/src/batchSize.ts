// Time Transfer (2410.05838): the optimal batch size grows with T. B_opt(T) = the batch size with
// the lowest loss at its own η_opt per (model, T); fit B_opt = c·T^d when ≥3 distinct T.
import type { EtaOptGroup } from "./gamma.ts";
import { fitPowerLaw } from "./powerLaw.ts";

export interface BatchSizeRow {
  model: string;
  tokens: number;
  batchSize: number;
  lossAtOpt: number;
  etaOpt: number;
}

export interface BatchSizeFit {
  c: number;
  d: number;
  r2: number | null;
  n: number;
  ci95D: [number, number] | null;
}

export interface BatchSizeLaw {
  table: BatchSizeRow[];
  perModel: Record<string, BatchSizeFit | null>;
  /** Why a model has no fit (fewer than 3 distinct T, or B_opt constant). */
  notes: string[];
}

export function fitBatchSizeLaw(
  etaOpts: EtaOptGroup[],
  opts: { includeEdge?: boolean; bootstrap?: number; seed?: number } = {},
): BatchSizeLaw {
  const best = new Map<string, EtaOptGroup>();
  for (const g of etaOpts) {
    if (g.onEdge && !opts.includeEdge) continue;
    const k = `${g.model}\u0000${g.tokens}`;
    const cur = best.get(k);
    if (!cur || g.lossAtOpt < cur.lossAtOpt) best.set(k, g);
  }
  const table = [...best.values()]
    .map((g) => ({
      model: g.model,
      tokens: g.tokens,
      batchSize: g.batchSize,
      lossAtOpt: g.lossAtOpt,
      etaOpt: g.etaOpt,
    }))
    .sort((p, q) => (p.model < q.model ? -1 : p.model > q.model ? 1 : p.tokens - q.tokens));
  const perModel: Record<string, BatchSizeFit | null> = {};
  const notes: string[] = [];
  for (const model of new Set(table.map((r) => r.model))) {
    const rows = table.filter((r) => r.model === model);
    if (new Set(rows.map((r) => r.tokens)).size < 3) {
      perModel[model] = null;
      notes.push(`${model}: B_opt law needs ≥3 token budgets (have ${rows.length})`);
      continue;
    }
    const law = fitPowerLaw(
      rows.map((r) => ({ tokens: r.tokens, gamma: r.batchSize })),
      { bootstrap: opts.bootstrap ?? 200, seed: opts.seed ?? 1 },
    );
    perModel[model] = { c: law.a, d: law.b, r2: law.r2, n: law.n, ci95D: law.ci95?.b ?? null };
  }
  return { table, perModel, notes };
}
