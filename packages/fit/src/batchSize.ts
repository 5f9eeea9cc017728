// Time Transfer (2410.05838): the optimal batch size grows with T. B_opt(T) = the batch size with
// the lowest loss at its own η_opt per (model, T); fit B_opt = c·T^d when ≥3 distinct T.
// A B_opt on the smallest or largest batch size tried at its T is only a bound (the optimum may lie
// beyond the grid), so like an η_opt on the lr grid's edge it is flagged and left out of the law.
import type { EtaOptGroup } from "./gamma.ts";
import { fitPowerLaw } from "./powerLaw.ts";

export interface BatchSizeRow {
  model: string;
  tokens: number;
  batchSize: number;
  lossAtOpt: number;
  etaOpt: number;
  /** B_opt is the smallest ("lower") or largest ("higher") batch size tried at this T: extend the grid that way. */
  onEdge: "lower" | "higher" | null;
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
  /** Why a model has no fit (fewer than 3 distinct T, or B_opt constant) and which B_opt are grid bounds. */
  notes: string[];
}

export function fitBatchSizeLaw(
  etaOpts: EtaOptGroup[],
  opts: { includeEdge?: boolean; bootstrap?: number; seed?: number } = {},
): BatchSizeLaw {
  const best = new Map<string, EtaOptGroup>();
  const tried = new Map<string, number[]>();
  for (const g of etaOpts) {
    const k = `${g.model}\u0000${g.tokens}`;
    tried.set(k, [...(tried.get(k) ?? []), g.batchSize]);
    if (g.onEdge && !opts.includeEdge) continue;
    const cur = best.get(k);
    if (!cur || g.lossAtOpt < cur.lossAtOpt) best.set(k, g);
  }
  const edgeOf = (g: EtaOptGroup): BatchSizeRow["onEdge"] => {
    const grid = tried.get(`${g.model}\u0000${g.tokens}`) ?? [];
    if (grid.length < 2) return null;
    if (g.batchSize <= Math.min(...grid)) return "lower";
    if (g.batchSize >= Math.max(...grid)) return "higher";
    return null;
  };
  const table = [...best.values()]
    .map((g) => ({
      model: g.model,
      tokens: g.tokens,
      batchSize: g.batchSize,
      lossAtOpt: g.lossAtOpt,
      etaOpt: g.etaOpt,
      onEdge: edgeOf(g),
    }))
    .sort((p, q) => (p.model < q.model ? -1 : p.model > q.model ? 1 : p.tokens - q.tokens));
  const perModel: Record<string, BatchSizeFit | null> = {};
  const notes: string[] = [];
  for (const r of table)
    if (r.onEdge)
      notes.push(
        `${r.model} T=${r.tokens}: B_opt = ${r.batchSize} is the ${r.onEdge === "lower" ? "smallest" : "largest"} batch size tried; extend batch sizes ${r.onEdge}${opts.includeEdge ? "" : "; excluded from the B_opt law"}`,
      );
  for (const model of new Set(table.map((r) => r.model))) {
    const rows = table.filter((r) => r.model === model && (opts.includeEdge || !r.onEdge));
    perModel[model] = null;
    if (new Set(rows.map((r) => r.tokens)).size < 3) {
      notes.push(
        `${model}: B_opt law not fitted: needs B_opt inside the grid at ≥3 token budgets (have ${rows.length})`,
      );
      continue;
    }
    const sizes = new Set(rows.map((r) => r.batchSize));
    if (sizes.size < 2) {
      notes.push(
        `${model}: B_opt law not fitted: B_opt = ${[...sizes][0]} at every token budget, so the batch-size grid does not resolve a trend`,
      );
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
