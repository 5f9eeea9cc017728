// One call for the fitter service: η_opt per (model, T, β) → γ table → γ = a·T^b (eq. 4) pooled and
// per size + transfer check (Hypothesis 2) → B_opt(T) (Time Transfer) → power-sweep summary.
import { type BatchSizeLaw, fitBatchSizeLaw } from "./batchSize.ts";
import { estimateEtaOpt, type LossNoise, pooledLossNoise } from "./etaOpt.ts";
import { type EtaOptGroup, type GammaRow, gammaTable } from "./gamma.ts";
import { fitPowerLaw, type PowerLaw, type TransferCheck, transferCheck } from "./powerLaw.ts";
import { type PowerSweepSummary, powerSweepSurface } from "./powerSweep.ts";

/** One finished (or failed) trial as the fitter reads it from the database. */
export type FitRow = {
  model: string;
  tokens: number;
  batchSize: number;
  lr?: number | null;
  powerA?: number | null;
  powerB?: number | null;
  seed?: number;
  testLoss: number | null;
  status?: string;
};

export interface FitSweepOptions {
  bandSteps?: number;
  minPoints?: number;
  /** Bootstrap resamples per η_opt group (default 200). */
  etaBootstrap?: number;
  /** Bootstrap resamples per power-law fit (default 1000). */
  lawBootstrap?: number;
  seed?: number;
  topK?: number;
  includeEdge?: boolean;
}

export interface SweepFit {
  options: Required<FitSweepOptions>;
  counts: { rows: number; used: number; diverged: number; failed: number; powerSweepRows: number };
  etaOpt: EtaOptGroup[];
  gamma: GammaRow[];
  law: { pooled: PowerLaw | null; perModel: Record<string, PowerLaw | null>; transfer: TransferCheck | null };
  batchSizeLaw: BatchSizeLaw;
  powerSweep: PowerSweepSummary | null;
  /** Run-to-run noise of the test loss pooled over the groups (seed spread and band residuals); it sets every group's η_opt interval. */
  noise: LossNoise | null;
  warnings: string[];
}

const isNum = (x: number | null | undefined): x is number => typeof x === "number" && Number.isFinite(x);

/** Replace non-finite numbers by null so the result survives JSON.stringify unchanged. */
function jsonSafe<T>(v: T): T {
  if (typeof v === "number") return (Number.isFinite(v) ? v : null) as T;
  if (Array.isArray(v)) return v.map(jsonSafe) as T;
  if (v && typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = jsonSafe(x);
    return o as T;
  }
  return v;
}

/**
 * Rows with a finite powerA and powerB belong to a power sweep and are summarised there; the others
 * (with an lr) feed η_opt. Rows whose status is neither "succeeded" nor absent, or whose testLoss is
 * not finite, are not fitted; "diverged" ones are counted per group and a divergence above a
 * top-edge optimum counts as bracketing it (see EtaOptOptions.divergedLrs).
 */
export function fitSweep(rows: FitRow[], options: FitSweepOptions = {}): SweepFit {
  const opts: Required<FitSweepOptions> = {
    bandSteps: options.bandSteps ?? 2,
    minPoints: options.minPoints ?? 4,
    etaBootstrap: options.etaBootstrap ?? 200,
    lawBootstrap: options.lawBootstrap ?? 1000,
    seed: options.seed ?? 1,
    topK: options.topK ?? 3,
    includeEdge: options.includeEdge ?? false,
  };
  const warnings: string[] = [];
  type Group = {
    model: string;
    tokens: number;
    batchSize: number;
    points: { lr: number; testLoss: number }[];
    divergedLrs: number[];
    nFailed: number;
  };
  const groups = new Map<string, Group>();
  const powerRows: FitRow[] = [];
  let used = 0;
  let diverged = 0;
  let failed = 0;
  for (const r of rows) {
    if (isNum(r.powerA) && isNum(r.powerB)) {
      powerRows.push(r);
      continue;
    }
    if (!isNum(r.lr)) continue;
    const k = `${r.model}\u0000${r.tokens}\u0000${r.batchSize}`;
    let g = groups.get(k);
    if (!g) {
      g = { model: r.model, tokens: r.tokens, batchSize: r.batchSize, points: [], divergedLrs: [], nFailed: 0 };
      groups.set(k, g);
    }
    const ok = (r.status == null || r.status === "succeeded") && isNum(r.testLoss);
    if (ok) {
      g.points.push({ lr: r.lr, testLoss: r.testLoss as number });
      used++;
    } else if (r.status === "diverged") {
      g.divergedLrs.push(r.lr);
      diverged++;
    } else {
      g.nFailed++;
      failed++;
    }
  }

  const etaOpt: EtaOptGroup[] = [];
  let gi = 0;
  const sorted = [...groups.values()].sort((p, q) =>
    p.model < q.model ? -1 : p.model > q.model ? 1 : p.tokens - q.tokens || p.batchSize - q.batchSize,
  );
  const noise = pooledLossNoise(
    sorted.map((g) => g.points),
    { bandSteps: opts.bandSteps, minPoints: opts.minPoints },
  );
  for (const g of sorted) {
    gi++;
    const label = `${g.model} T=${g.tokens} β=${g.batchSize}`;
    if (g.points.length === 0) {
      warnings.push(`${label}: no successful runs (${g.divergedLrs.length} diverged, ${g.nFailed} failed)`);
      continue;
    }
    const est = estimateEtaOpt(g.points, {
      bandSteps: opts.bandSteps,
      minPoints: opts.minPoints,
      bootstrap: opts.etaBootstrap,
      seed: opts.seed + gi * 7919,
      divergedLrs: g.divergedLrs,
      noiseSd: noise?.sd,
      noiseDof: noise?.dof,
    });
    etaOpt.push({
      model: g.model,
      tokens: g.tokens,
      batchSize: g.batchSize,
      nDiverged: g.divergedLrs.length,
      nFailed: g.nFailed,
      ...est,
    });
    if (est.onEdge) {
      const fmt = est.suggestedLrs.map((x) => x.toPrecision(3)).join(", ");
      warnings.push(
        est.extend
          ? `${label}: optimum on the ${est.extend === "lower" ? "lowest" : "highest"} lr of the grid; extend ${est.extend} (add lr ${fmt})${opts.includeEdge ? "" : "; excluded from the law"}`
          : `${label}: only ${est.nLrs} lr value(s); cannot locate an optimum`,
      );
    } else if (est.fallback === "vertex-above-grid-point") {
      warnings.push(
        `${label}: loss curve not convex around its minimum: the fitted parabola's minimum is worse than the grid point lr ${est.etaOpt.toPrecision(3)} (loss ${est.lossAtOpt.toFixed(4)}); η_opt is that grid point, its interval the grid points within noise of it`,
      );
    } else if (est.method === "argmin") {
      warnings.push(
        `${label}: loss curve not convex around its minimum; η_opt is the grid argmin, its interval the grid points within noise of it`,
      );
    }
  }

  const gamma = gammaTable(etaOpt, { topK: opts.topK, includeEdge: opts.includeEdge });
  const lawOpts = { bootstrap: opts.lawBootstrap, seed: opts.seed };
  const canFit = (rs: GammaRow[]) => new Set(rs.map((r) => r.tokens)).size >= 2;
  const pooled = canFit(gamma)
    ? fitPowerLaw(
        gamma.map((r) => ({ tokens: r.tokens, gamma: r.gamma, model: r.model })),
        lawOpts,
      )
    : null;
  if (!pooled && groups.size > 0) warnings.push("γ law not fitted: need γ at ≥2 token budgets"); // lr-grid rows only
  const perModel: Record<string, PowerLaw | null> = {};
  for (const model of new Set(gamma.map((r) => r.model))) {
    const rs = gamma.filter((r) => r.model === model);
    perModel[model] = canFit(rs)
      ? fitPowerLaw(
          rs.map((r) => ({ tokens: r.tokens, gamma: r.gamma, model })),
          lawOpts,
        )
      : null;
  }
  const models = Object.keys(perModel);
  const transfer = models.length >= 2 ? transferCheck(perModel) : null;
  if (transfer && !transfer.agree) warnings.push(`transfer check: ${transfer.detail}`);

  const batchSizeLaw = fitBatchSizeLaw(etaOpt, { includeEdge: opts.includeEdge, seed: opts.seed });
  warnings.push(...batchSizeLaw.notes);
  const powerSweep = powerRows.length > 0 ? powerSweepSurface(powerRows) : null;
  if (powerSweep) warnings.push(...powerSweep.warnings);

  return jsonSafe({
    options: opts,
    counts: { rows: rows.length, used, diverged, failed, powerSweepRows: powerRows.length },
    etaOpt,
    gamma,
    law: { pooled, perModel, transfer },
    batchSizeLaw,
    powerSweep,
    noise,
    warnings,
  });
}
