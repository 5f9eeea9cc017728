// Search steps of an adaptive η search (`axes.lr.search`, docs/documents.md) on Postgres and
// BullMQ: after each refit of a searched sweep, the fitter calls runSearchStep. It plans the next
// learning rates of every (model, T, β) cell that has no trial pending (packages/fit
// planSearchSteps, pure), inserts them as queued trials marked with the step that placed them,
// enqueues them, and completes the sweep once every cell's search has ended (the worker's and the
// sweeper's completion checks leave searched sweeps to this step: results.ts NOT_SEARCHED_SQL).
//
// Safe under concurrent refits: the step holds the sweep's row lock while it reads the trials and
// inserts, so two steps run one after the other, and the second sees the first's trials pending.
// A rerun with the same results plans the same keys, which the Trial key (sweepId, key) dedupes.
import type { Db } from "@powersweep/db";
import { planSearchSteps, type SearchCellPlan, type SearchTrial, type SweepFit } from "@powersweep/fit";
import { enqueueTrials, type TrialQueue } from "@powersweep/queue";
import type { GridSweep, SweepDocument } from "@powersweep/spec";
import { lrSearchOf, resolveAxes, searchTrials } from "@powersweep/sweep";
import { INSERT_CHUNK } from "./accept.ts";
import { queryRows } from "./sql.ts";
import { insertGridTrials } from "./trialInsert.ts";

export interface SearchStepDeps {
  db: Db;
  trialQueue: TrialQueue;
}

export interface SearchStepOutcome {
  /** Trials the step added (and enqueued). */
  added: number;
  /** Cells with a trial still queued or running. */
  pending: number;
  /** Every cell's search has ended. */
  done: boolean;
  /** This step marked the sweep completed. */
  completed: boolean;
  cells: SearchCellPlan[];
}

/**
 * Runs the search step of a sweep after a refit; `fit` is the sweep's latest fit (its pooled noise
 * and γ table inform the step) or null. Null when the sweep is not searched (or does not exist);
 * a sweep that is not queued or running (cancelled, completed) is left alone.
 */
export async function runSearchStep(
  deps: SearchStepDeps,
  sweepId: string,
  fit: SweepFit | null,
): Promise<SearchStepOutcome | null> {
  const sweep = await deps.db.sweep.findUnique({ where: { id: sweepId }, select: { spec: true, priority: true } });
  if (!sweep) return null;
  const doc = sweep.spec as unknown as SweepDocument;
  const search = lrSearchOf(doc);
  if (!search) return null;
  const seeds = resolveAxes(doc as GridSweep).seeds;
  const step = await deps.db.$transaction(
    async (tx) => {
      const [locked] = await queryRows<{ status: string }>(
        tx,
        `SELECT status::text AS status FROM "Sweep" WHERE id = $1::uuid FOR UPDATE`,
        [sweepId],
      );
      if (!locked || (locked.status !== "queued" && locked.status !== "running")) return null;
      const trials = await queryRows<SearchTrial>(
        tx,
        `SELECT model, tokens, "batchSize", lr, seed, status::text AS status, "testLoss" FROM "Trial"
         WHERE "sweepId" = $1::uuid ORDER BY "createdAt", key`,
        [sweepId],
      );
      const plan = planSearchSteps(trials, {
        search,
        seeds,
        ...(fit?.gamma ? { gamma: fit.gamma } : {}),
        noiseSd: fit?.noise?.sd ?? null,
      });
      const fresh = searchTrials(doc as GridSweep, plan.placements);
      const ids: string[] = [];
      for (let i = 0; i < fresh.length; i += INSERT_CHUNK)
        ids.push(...(await insertGridTrials(tx, sweepId, fresh.slice(i, i + INSERT_CHUNK))));
      const pending = plan.cells.filter((c) => c.status === "pending").length;
      // Done, or nothing new to run and nothing running (every η asked for was run already): complete.
      const complete = plan.done || (ids.length === 0 && pending === 0);
      await tx.$executeRawUnsafe(
        `UPDATE "Sweep" SET "trialCount" = (SELECT count(*) FROM "Trial" WHERE "sweepId" = $1::uuid)::int,
           ${complete ? `status = 'completed', "finishedAt" = now(),` : ""} "updatedAt" = now()
         WHERE id = $1::uuid`,
        sweepId,
      );
      return { ids, plan, pending, complete };
    },
    { timeout: 120_000, maxWait: 30_000 },
  );
  if (!step) return { added: 0, pending: 0, done: false, completed: false, cells: [] };
  await enqueueTrials(
    deps.trialQueue,
    step.ids.map((id) => ({ id, sweepId, priority: sweep.priority })),
  );
  return {
    added: step.ids.length,
    pending: step.pending,
    done: step.plan.done,
    completed: step.complete,
    cells: step.plan.cells,
  };
}
