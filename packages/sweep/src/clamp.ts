// Where η_max clamps the Power scheduler (eq. 7: η_power(n) = min(η_max, β·a·n^b)). β·a·n^b falls
// with n (b < 0), so it is clamped on [0, n*] with n* = (η_max / (β·a))^(1/b). A trial whose decay
// starts inside the clamp trains exactly the WSD schedule at η_max, whatever its a and b: a
// power-grid made of such trials measures the same schedule 9 times. Pure, like the expansion.
import type { GridSweep } from "@powersweep/spec";
import { expandSweep, resolveAxes } from "./expand.ts";

export interface PowerClampParams {
  powerA: number;
  powerB: number;
  etaMax: number;
  batchSize: number;
}

/** n*: tokens until which β·a·n^b ≥ η_max (eq. 7 is clamped at η_max up to here). */
export function powerClampTokens({ powerA, powerB, etaMax, batchSize }: PowerClampParams): number {
  return (etaMax / (batchSize * powerA)) ** (1 / powerB);
}

/** The fraction of a run of `tokens` tokens in which η_max clamps the Power schedule, in [0, 1]. */
export function powerClampFraction(params: PowerClampParams, tokens: number): number {
  return Math.min(1, powerClampTokens(params) / tokens);
}

/** Fraction above which a trial counts as "clamped for most of the run". */
export const MOSTLY_CLAMPED = 0.5;

export interface PowerGridCell {
  powerA: number;
  powerB: number;
  tokens: number;
  batchSize: number;
  /** Fraction of the run clamped at η_max. */
  clampFraction: number;
  /** The decay starts inside the clamp: the schedule is WSD at η_max, the same for every (a, b). */
  identical: boolean;
}

export interface PowerGridCheck {
  cells: PowerGridCell[];
  warnings: string[];
}

const fmt = (x: number) => Number(x.toPrecision(2)).toString();
const fmtTokens = (x: number) => (x >= 1e6 ? `${fmt(x / 1e6)}M` : x >= 1e3 ? `${fmt(x / 1e3)}k` : fmt(x));

/**
 * The clamp of every (a, b, T, β) of a power-grid (the same for each model and seed), and warnings
 * when a (T, β) group's schedules are all identical or most trials are clamped for most of their
 * run, with an η_max and a token budget where a and b would matter. Empty for other kinds.
 */
export function checkPowerGrid(doc: GridSweep): PowerGridCheck {
  if (doc.kind !== "power-grid") return { cells: [], warnings: [] };
  const cells = new Map<string, PowerGridCell>();
  for (const t of expandSweep({ ...doc, axes: { ...doc.axes, models: doc.axes.models.slice(0, 1), seeds: [0] } })) {
    const s = t.config.schedule;
    if (s.type !== "power") continue;
    const params = { powerA: s.powerA, powerB: s.powerB, etaMax: s.etaMax, batchSize: t.batchSize };
    const decayStart = t.tokens - s.decayFraction * t.tokens;
    const clampTokens = powerClampTokens(params);
    cells.set(`${s.powerA}/${s.powerB}/${t.tokens}/${t.batchSize}`, {
      powerA: s.powerA,
      powerB: s.powerB,
      tokens: t.tokens,
      batchSize: t.batchSize,
      clampFraction: powerClampFraction(params, t.tokens),
      identical: clampTokens >= decayStart,
    });
  }
  const all = [...cells.values()];
  const warnings: string[] = [];
  const axes = resolveAxes(doc);
  const etaMax = doc.schedule.etaMax;
  const identicalGroups = new Set<string>();
  for (const T of axes.tokens)
    for (const B of axes.batchSize) {
      const group = all.filter((c) => c.tokens === T && c.batchSize === B);
      if (group.length > 1 && group.every((c) => c.identical)) identicalGroups.add(`T=${fmtTokens(T)} β=${B}`);
    }
  const mostly = all.filter((c) => c.clampFraction > MOSTLY_CLAMPED);
  if (identicalGroups.size > 0 || mostly.length > all.length / 2) {
    // η_max at which every trial leaves the clamp within its first 10% of tokens, and the budget
    // from which the default η_max clamps less than half of every run.
    const etaNeeded = Math.max(...all.map((c) => c.batchSize * c.powerA * (0.1 * c.tokens) ** c.powerB));
    const aNeeded = Math.min(...all.map((c) => etaMax / (c.batchSize * (0.1 * c.tokens) ** c.powerB)));
    const tokensNeeded = Math.max(...all.map((c) => powerClampTokens({ ...c, etaMax }) / MOSTLY_CLAMPED));
    if (identicalGroups.size > 0)
      warnings.push(
        `power-grid: η_max = ${etaMax} clamps every (a, b) past the start of the decay at ${[...identicalGroups].join(", ")}: those schedules are identical (WSD at η_max), so their losses differ only by noise`,
      );
    warnings.push(
      `power-grid: ${mostly.length} of ${all.length} (a, b, T, β) are clamped at η_max for more than half of the run (median ${fmt(median(all.map((c) => c.clampFraction)))}); for a and b to matter, raise schedule.etaMax to ≥ ${fmt(etaNeeded)} (every run leaves the clamp within its first 10%), use powerA ≤ ${fmt(aNeeded)} (the same at this η_max), or train ≥ ${fmtTokens(tokensNeeded)} tokens`,
    );
  }
  return { cells: all, warnings };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
