// Refit one sweep from its finished trials. A fit is stored with the exact trial set it used; when
// nothing changed since the last fit (same input hash), the stored fit is reused.
import { createHash } from "node:crypto";
import type { Db } from "@powersweep/db";
import { type FitRow, fitSweep } from "@powersweep/fit";

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

export async function refitSweep(
  db: Db,
  sweepId: string,
  options: Record<string, unknown> = {},
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
  const result = fitSweep(rows, options);
  const fit = await db.fit.upsert({
    where: { sweepId_inputHash: { sweepId, inputHash } },
    create: {
      sweepId,
      inputHash,
      inputs: { trialIds: rows.map((r) => r.id), rowCount: rows.length, options: options as object },
      result: result as unknown as object,
    },
    update: {},
    select: { id: true },
  });
  return { fitId: fit.id, reused: false, rows: rows.length };
}
