// Fits on Postgres: a sweep's fit is stored with the exact trial set it used; when nothing changed
// since the last fit (same input hash), the stored fit is reused. The fitter service and the API
// call these; the fitting itself is packages/fit (pure).
import { createHash } from "node:crypto";
import type { Db } from "@powersweep/db";
import { type FitRow, fitSweep, type SweepFit } from "@powersweep/fit";
import { FITTED_TRIAL_STATUSES } from "@powersweep/spec";
import { NotFoundError } from "./sweeps.ts";

export interface RefitOutcome {
  fitId: string;
  reused: boolean;
  rows: number;
}

/** The sweep's trials that carry information for the fit (diverged rows mark too-high learning rates). */
export async function loadFitRows(db: Db, sweepId: string): Promise<Array<FitRow & { id: string }>> {
  const trials = await db.trial.findMany({
    where: { sweepId, status: { in: [...FITTED_TRIAL_STATUSES] } },
    select: {
      id: true,
      model: true,
      tokens: true,
      batchSize: true,
      lr: true,
      powerA: true,
      powerB: true,
      seed: true,
      testLoss: true,
      status: true,
    },
    orderBy: { id: "asc" },
  });
  return trials.map((t) => ({ ...t, status: t.status as string }));
}

export function fitInputHash(rows: Array<FitRow & { id: string }>, options: unknown): string {
  const h = createHash("sha256");
  h.update(JSON.stringify(options ?? {}));
  for (const r of rows) h.update(`${r.id}:${r.status}:${r.testLoss ?? "null"}\n`);
  return h.digest("hex");
}

/** Fits a sweep's current results and stores the fit (or reuses the stored one); null: no such sweep. */
/** How a fit is computed: fitSweep here, or in a worker thread (the fitter's pool). */
export type FitFn = (rows: FitRow[], options: Record<string, unknown>) => SweepFit | Promise<SweepFit>;

export async function refitSweep(
  db: Db,
  sweepId: string,
  options: Record<string, unknown> = {},
  fit: FitFn = fitSweep,
): Promise<RefitOutcome | null> {
  const sweep = await db.sweep.findUnique({ where: { id: sweepId }, select: { id: true } });
  if (!sweep) return null;
  const rows = await loadFitRows(db, sweepId);
  const inputHash = fitInputHash(rows, options);
  const existing = await db.fit.findUnique({
    where: { sweepId_inputHash: { sweepId, inputHash } },
    select: { id: true },
  });
  if (existing) return { fitId: existing.id, reused: true, rows: rows.length };
  const result = await fit(rows, options);
  const stored = await db.fit.upsert({
    where: { sweepId_inputHash: { sweepId, inputHash } },
    create: {
      sweepId,
      inputHash,
      // The input is the hash (inputHash) and its size, not a list of trial ids.
      inputs: { rowCount: rows.length, options: options as object },
      result: result as unknown as object,
    },
    update: {},
    select: { id: true },
  });
  return { fitId: stored.id, reused: false, rows: rows.length };
}

/** The sweep's latest stored fit; null when it has none yet. Throws NotFoundError for no such sweep. */
export async function latestFit(db: Db, sweepId: string) {
  const sweep = await db.sweep.findUnique({ where: { id: sweepId }, select: { id: true } });
  if (!sweep) throw new NotFoundError(`no sweep ${sweepId}`);
  return db.fit.findFirst({ where: { sweepId }, orderBy: { createdAt: "desc" } });
}
