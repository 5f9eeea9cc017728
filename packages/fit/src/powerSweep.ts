// Power sweep (Table 3 of 2408.13359): loss over (a, b) of the power scheduler per (T, β).
// The paper finds loss flat in a ∈ [3, 5] and sharp in b (best near −0.51).
import type { FitRow } from "./fitSweep.ts";

export interface PowerSweepCell {
  powerA: number;
  powerB: number;
  meanLoss: number;
  nSeeds: number;
}

export interface PowerSweepSurface {
  tokens: number;
  batchSize: number;
  model: string;
  cells: PowerSweepCell[];
}

export interface PowerSweepSummary {
  surfaces: PowerSweepSurface[];
  /**
   * Mean over (model, T, β) groups of the excess loss (nats) above that group's best cell. Chosen
   * over mean rank because it keeps the size of differences; only (a, b) present in every group compete.
   */
  aggregate: { powerA: number; powerB: number; meanExcessLoss: number; nGroups: number }[];
  best: { powerA: number; powerB: number; meanExcessLoss: number } | null;
  /** max − min of aggregate excess loss (nats) along a at the best b, and along b at the best a. */
  spreadAlongA: number | null;
  spreadAlongB: number | null;
  flatter: "a" | "b" | null;
}

const isNum = (x: number | null | undefined): x is number => typeof x === "number" && Number.isFinite(x);

export function powerSweepSurface(rows: FitRow[]): PowerSweepSummary {
  const groups = new Map<string, { model: string; tokens: number; batchSize: number; cells: Map<string, number[]> }>();
  for (const r of rows) {
    if (!isNum(r.powerA) || !isNum(r.powerB) || !isNum(r.testLoss)) continue;
    if (r.status != null && r.status !== "succeeded") continue;
    const gk = `${r.model}\u0000${r.tokens}\u0000${r.batchSize}`;
    let g = groups.get(gk);
    if (!g) {
      g = { model: r.model, tokens: r.tokens, batchSize: r.batchSize, cells: new Map() };
      groups.set(gk, g);
    }
    const ck = `${r.powerA}\u0000${r.powerB}`;
    const list = g.cells.get(ck);
    if (list) list.push(r.testLoss);
    else g.cells.set(ck, [r.testLoss]);
  }
  const surfaces: PowerSweepSurface[] = [];
  const excess = new Map<string, { powerA: number; powerB: number; sum: number; n: number }>();
  for (const g of groups.values()) {
    const cells: PowerSweepCell[] = [];
    for (const [ck, losses] of g.cells) {
      const [a, b] = ck.split("\u0000").map(Number) as [number, number];
      cells.push({
        powerA: a,
        powerB: b,
        meanLoss: losses.reduce((s, x) => s + x, 0) / losses.length,
        nSeeds: losses.length,
      });
    }
    cells.sort((p, q) => p.powerA - q.powerA || p.powerB - q.powerB);
    surfaces.push({ model: g.model, tokens: g.tokens, batchSize: g.batchSize, cells });
    const min = Math.min(...cells.map((c) => c.meanLoss));
    for (const c of cells) {
      const k = `${c.powerA}\u0000${c.powerB}`;
      const e = excess.get(k) ?? { powerA: c.powerA, powerB: c.powerB, sum: 0, n: 0 };
      e.sum += c.meanLoss - min;
      e.n++;
      excess.set(k, e);
    }
  }
  const nGroups = surfaces.length;
  const aggregate = [...excess.values()]
    .filter((e) => e.n === nGroups)
    .map((e) => ({ powerA: e.powerA, powerB: e.powerB, meanExcessLoss: e.sum / e.n, nGroups: e.n }))
    .sort((p, q) => p.powerA - q.powerA || p.powerB - q.powerB);
  if (aggregate.length === 0)
    return { surfaces, aggregate, best: null, spreadAlongA: null, spreadAlongB: null, flatter: null };
  const best = aggregate.reduce((p, q) => (q.meanExcessLoss < p.meanExcessLoss ? q : p));
  const spread = (v: number[]) => (v.length >= 2 ? Math.max(...v) - Math.min(...v) : null);
  const spreadAlongA = spread(aggregate.filter((c) => c.powerB === best.powerB).map((c) => c.meanExcessLoss));
  const spreadAlongB = spread(aggregate.filter((c) => c.powerA === best.powerA).map((c) => c.meanExcessLoss));
  const flatter =
    spreadAlongA === null || spreadAlongB === null
      ? null
      : spreadAlongA < spreadAlongB
        ? ("a" as const)
        : ("b" as const);
  return {
    surfaces,
    aggregate,
    best: { powerA: best.powerA, powerB: best.powerB, meanExcessLoss: best.meanExcessLoss },
    spreadAlongA,
    spreadAlongB,
    flatter,
  };
}
