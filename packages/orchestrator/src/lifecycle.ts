// A sweep's lifecycle after its accept: resume (after a cancel), retry (crashed trials), extend
// (new axis values). Each commits its rows first and enqueues their jobs after.
import { enqueueTrials } from "@powersweep/queue";
import type { ExtendDocument, GridSweep } from "@powersweep/spec";
import { type ExpandedTrial, expandSweepInChunks, extendSweep } from "@powersweep/sweep";
import { checkSize, INSERT_CHUNK, PREVIEW_TRIALS } from "./accept.ts";
import { runnableIds } from "./branches.ts";
import { ensureJobs } from "./jobs.ts";
import { ConflictError, NotFoundError, type SweepDeps } from "./sweeps.ts";
import { insertGridTrials } from "./trialInsert.ts";

/**
 * Resumes a cancelled sweep: its cancelled and failed trials are queued again (keeping their
 * attempts and checkpoints) and the sweep becomes queued.
 */
export async function resumeSweep(deps: SweepDeps, id: string) {
  const s = await deps.db.sweep.findUnique({ where: { id }, select: { status: true, priority: true } });
  if (!s) throw new NotFoundError(`no sweep ${id}`);
  if (s.status !== "cancelled") throw new ConflictError(`sweep ${id} is ${s.status}, not cancelled`);
  const rows = await deps.db.$queryRawUnsafe<Array<{ id: string }>>(
    `WITH s AS (
       UPDATE "Sweep" SET status = 'queued', "finishedAt" = NULL, "updatedAt" = now()
       WHERE id = $1::uuid AND status = 'cancelled' RETURNING id
     )
     UPDATE "Trial" t SET status = 'queued', error = NULL, "errorClass" = NULL, "workerId" = NULL, "startedAt" = NULL,
       "finishedAt" = NULL, "leaseUntil" = NULL, "resultAttempt" = NULL, "updatedAt" = now()
     FROM s WHERE t."sweepId" = s.id AND t.status IN ('cancelled', 'failed') RETURNING t.id::text AS id`,
    id,
  );
  await ensureJobs(
    deps.trialQueue,
    rows.map((r) => ({ id: r.id, sweepId: id, priority: s.priority })),
  );
  return { id, resumed: rows.length };
}

/** Queues again the trials that failed by crashing (errorClass "crash"), each as a new job. */
export async function retrySweep(deps: SweepDeps, id: string) {
  const s = await deps.db.sweep.findUnique({ where: { id } });
  if (!s) throw new NotFoundError(`no sweep ${id}`);
  if (s.status === "cancelled") throw new ConflictError(`sweep ${id} is cancelled`);
  if (s.status === "creating") throw new ConflictError(`sweep ${id} is still being created`);
  const rows = await deps.db.$queryRawUnsafe<Array<{ id: string }>>(
    `UPDATE "Trial" SET status = 'queued', error = NULL, "errorClass" = NULL, "workerId" = NULL, "startedAt" = NULL,
       "finishedAt" = NULL, "leaseUntil" = NULL, "resultAttempt" = NULL, "updatedAt" = now()
     WHERE "sweepId" = $1::uuid AND status = 'failed' AND "errorClass" = 'crash' RETURNING id::text AS id`,
    id,
  );
  const ids = rows.map((r) => r.id);
  if (ids.length) {
    await deps.db.sweep.update({ where: { id }, data: { status: "running", finishedAt: null } });
    // A failed job keeps its id in Redis: ensureJobs replaces it, so the new job is not a no-op.
    await ensureJobs(
      deps.trialQueue,
      ids.map((t) => ({ id: t, sweepId: id, priority: s.priority })),
    );
  }
  return { id, retried: ids.length };
}

/** Adds axis values to a grid sweep; only trials not already in it are created and queued. */
export async function extendSweepTrials(deps: SweepDeps, id: string, ext: ExtendDocument, { dryRun = false } = {}) {
  const s = await deps.db.sweep.findUnique({ where: { id } });
  if (!s) throw new NotFoundError(`no sweep ${id}`);
  if (s.kind === "import") throw new ConflictError("an import sweep has no axes to extend");
  if (s.status === "cancelled") throw new ConflictError(`sweep ${id} is cancelled`);
  if (s.status === "creating") throw new ConflictError(`sweep ${id} is still being created`);
  const doc = extendSweep(s.spec as unknown as GridSweep, ext);
  const size = checkSize(doc, deps.maxTrialsPerSweep);
  const existing = new Set(
    (await deps.db.trial.findMany({ where: { sweepId: id }, select: { key: true } })).map((t) => t.key),
  );
  const fresh: ExpandedTrial[] = [];
  for await (const chunk of expandSweepInChunks(doc)) for (const t of chunk) if (!existing.has(t.key)) fresh.push(t);
  if (dryRun)
    return {
      id,
      dryRun: true,
      added: fresh.length,
      trialCount: existing.size + fresh.length,
      size,
      trials: fresh.slice(0, PREVIEW_TRIALS),
    };
  const ids = await deps.db.$transaction(
    async (tx) => {
      const ids: string[] = [];
      for (let i = 0; i < fresh.length; i += INSERT_CHUNK)
        ids.push(...(await insertGridTrials(tx, id, fresh.slice(i, i + INSERT_CHUNK))));
      const count = await tx.trial.count({ where: { sweepId: id } });
      await tx.sweep.update({
        where: { id },
        data: {
          spec: doc as object,
          trialCount: count,
          ...(ids.length && s.status === "completed" ? { status: "queued", finishedAt: null } : {}),
        },
      });
      return ids;
    },
    { timeout: 600_000, maxWait: 30_000 },
  );
  const runnable = await runnableIds(deps.db, fresh, ids, false);
  await enqueueTrials(
    deps.trialQueue,
    runnable.map((t) => ({ id: t, sweepId: id, priority: s.priority })),
  );
  return { id, dryRun: false, added: ids.length, trialCount: existing.size + ids.length, size };
}
