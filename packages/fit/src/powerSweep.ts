// Power sweep (Table 3 of 2408.13359): loss over (a, b) of the power scheduler per (T, β).
// The paper finds loss flat in a ∈ [3, 5] and sharp in b (best near −0.51). A best (a, b) is only
// reported as such when the losses differ by more than their noise: at proxy scale η_max often
// clamps every schedule (packages/sweep checkPowerGrid), and identical schedules give a "best" cell
// that is noise.
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
  /** Succeeded rows the surfaces use. */
  rowsUsed: number;
  /** Seed-to-seed sd of the test loss pooled over cells with ≥ 2 seeds (nats); null with one seed per cell. */
  noiseSd: number | null;
  /**
   * The cells' losses are not told apart: the spread of the aggregate excess loss is below twice its
   * standard error (or below IDENTICAL_NATS: identical schedules). `best` is then the argmin of noise.
   */
  indistinguishable: boolean;
  warnings: string[];
}

/** Losses closer than this (nats) come from identical schedules (η_max clamps the whole run). */
export const IDENTICAL_NATS = 1e-4;

const isNum = (x: number | null | undefined): x is number => typeof x === "number" && Number.isFinite(x);

export function powerSweepSurface(rows: FitRow[]): PowerSweepSummary {
  const groups = new Map<string, { model: string; tokens: number; batchSize: number; cells: Map<string, number[]> }>();
  let rowsUsed = 0;
  for (const r of rows) {
    if (!isNum(r.powerA) || !isNum(r.powerB) || !isNum(r.testLoss)) continue;
    if (r.status != null && r.status !== "succeeded") continue;
    const gk = `${r.model}\u0000${r.tokens}\u0000${r.batchSize}`;
    let g = groups.get(gk);
    if (!g) {
      g = { model: r.model, tokens: r.tokens, batchSize: r.batchSize, cells: new Map() };
      groups.set(gk, g);
    }
    rowsUsed++;
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
  // Pooled within-cell variance over cells with ≥ 2 seeds.
  let ss = 0;
  let dof = 0;
  for (const g of groups.values())
    for (const losses of g.cells.values()) {
      if (losses.length < 2) continue;
      const m = losses.reduce((a, x) => a + x, 0) / losses.length;
      ss += losses.reduce((a, x) => a + (x - m) ** 2, 0);
      dof += losses.length - 1;
    }
  const noiseSd = dof > 0 ? Math.sqrt(ss / dof) : null;
  const nGroups = surfaces.length;
  const aggregate = [...excess.values()]
    .filter((e) => e.n === nGroups)
    .map((e) => ({ powerA: e.powerA, powerB: e.powerB, meanExcessLoss: e.sum / e.n, nGroups: e.n }))
    .sort((p, q) => p.powerA - q.powerA || p.powerB - q.powerB);
  const empty = { rowsUsed, noiseSd, indistinguishable: false, warnings: [] as string[] };
  if (aggregate.length === 0)
    return { surfaces, aggregate, best: null, spreadAlongA: null, spreadAlongB: null, flatter: null, ...empty };
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
  // The difference of two cells' aggregate excess losses averages nGroups differences of seed means.
  const meanSeeds =
    surfaces.reduce((n, s) => n + s.cells.reduce((m, c) => m + c.nSeeds, 0), 0) /
    Math.max(
      1,
      surfaces.reduce((n, s) => n + s.cells.length, 0),
    );
  const se = noiseSd === null ? null : noiseSd * Math.sqrt(2 / meanSeeds / Math.max(1, nGroups));
  const surfaceSpread = Math.max(...aggregate.map((c) => c.meanExcessLoss)) - best.meanExcessLoss;
  const warnings: string[] = [];
  const identical = aggregate.length > 1 && surfaceSpread < IDENTICAL_NATS;
  const indistinguishable = identical || (aggregate.length > 1 && se !== null && surfaceSpread < 2 * se);
  const fmt = (x: number) => x.toFixed(4);
  if (identical)
    warnings.push(
      `power sweep: all ${aggregate.length} (a, b) give the same loss (spread ${surfaceSpread.toExponential(1)} nats): their schedules are identical, most likely because η_max clamps the whole run; no best (a, b) can be told (raise η_max, lower a, or train longer: see the dry run's clamp warning)`,
    );
  else if (indistinguishable)
    warnings.push(
      `power sweep: the losses over (a, b) spread ${fmt(surfaceSpread)} nats, less than twice their standard error (${fmt(se as number)}; seed sd ${fmt(noiseSd as number)}): the best (a, b) = (${best.powerA}, ${best.powerB}) is not distinguishable from the others`,
    );
  else if (aggregate.length > 1 && se === null)
    warnings.push(
      `power sweep: one seed per (a, b): the spread of ${fmt(surfaceSpread)} nats cannot be compared with the seed noise; run ≥ 2 seeds before trusting the best (a, b)`,
    );
  return {
    surfaces,
    aggregate,
    rowsUsed,
    noiseSd,
    indistinguishable,
    warnings,
    best: { powerA: best.powerA, powerB: best.powerB, meanExcessLoss: best.meanExcessLoss },
    spreadAlongA,
    spreadAlongB,
    flatter,
  };
}
