// Refit one sweep from its finished trials. A fit references the trial set it used by a hash (of
// the trial ids, statuses and losses, and the options) and a count; when nothing changed since the
// last fit (same input hash), the stored fit is reused.
import { createHash } from "node:crypto";
import type { Db } from "@powersweep/db";
import { type FitRow, fitSweep, type SweepFit } from "@powersweep/fit";

export interface RefitOutcome {
  fitId: string;
  reused: boolean;
  rows: number;
}

/** Statuses whose rows carry information for the fit (diverged rows mark too-high learning rates). */
const FITTED_STATUSES = ["succeeded", "diverged"] as const;

export async function loadFitRows(db: Db, sweepId: string): Promise<Array<FitRow & { id: string }>> {
  const trials = await db.trial.findMany({
    where: { sweepId, status: { in: [...FITTED_STATUSES] } },
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
      // the input is the hash (inputHash) and its size, not a list of trial ids
      inputs: { rowCount: rows.length, options: options as object },
      result: result as unknown as object,
    },
    update: {},
    select: { id: true },
  });
  return { fitId: stored.id, reused: false, rows: rows.length };
}
