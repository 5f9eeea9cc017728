// Sweeps on Postgres (the record) and BullMQ (the transport): what every sweep operation shares
// (its dependencies, its errors) and cancelling a sweep. Accepting one is in accept.ts, reading
// them in reads.ts, resuming, retrying and extending in lifecycle.ts. Every write commits rows
// first and enqueues after, so a crash in between leaves queued rows the sweeper (reconcile.ts)
// re-enqueues, never a job without a row.
import type { Db } from "@powersweep/db";
import type { TrialQueue } from "@powersweep/queue";
import { removeJobs } from "./jobs.ts";
import type { SqlClient } from "./sql.ts";

export interface SweepDeps {
  db: Db;
  trialQueue: TrialQueue;
  maxTrialsPerSweep: number;
  /**
   * A plain pg pool for the bulk trial inserts of an accept (default: `db`), which then COPY their
   * rows. Its size is how many chunks are inserted in parallel; it may commit asynchronously (createSqlPool's asyncCommit),
   * because the accept ends with a synchronous commit on `db` that makes them durable.
   */
  sql?: SqlClient;
}

export class NotFoundError extends Error {
  override name = "NotFoundError";
}

export class ConflictError extends Error {
  override name = "ConflictError";
}

/**
 * Cancels a sweep in one statement: the sweep becomes cancelled (so no worker claims another of its
 * trials) and its running trials cancelled (each worker sees it at its next heartbeat's lease renewal
 * and stops; a trial whose worker is gone is cancelled all the same). The queued trials are marked
 * cancelled and their jobs removed after the answer (`background`; the sweeper finishes it if this
 * process dies), so cancelling a sweep of any size answers at once.
 */
export async function cancelSweep(deps: SweepDeps, id: string, { background = true } = {}) {
  const [row] = await deps.db.$queryRawUnsafe<Array<{ status: string; queued: number; running: number }>>(
    `WITH s AS (
       UPDATE "Sweep" SET status = 'cancelled', "finishedAt" = now(), "updatedAt" = now()
       WHERE id = $1::uuid AND status <> 'creating' RETURNING id
     ), r AS (
       UPDATE "Trial" SET status = 'cancelled', "leaseUntil" = NULL, "finishedAt" = now(), "updatedAt" = now(),
         error = 'sweep cancelled', "errorClass" = 'cancelled'
       WHERE "sweepId" = $1::uuid AND status = 'running' AND EXISTS (SELECT 1 FROM s) RETURNING id
     )
     SELECT status::text AS status,
       -- the queued trials, counted from the finished ones: the sweep's trialCount (kept by accept
       -- and extend) less those; counting the queued themselves read 200k index entries
       "trialCount" - (SELECT count(*)::int FROM r) - (SELECT count(*)::int FROM "Trial" WHERE "sweepId" = $1::uuid
         AND status IN ('succeeded', 'failed', 'diverged', 'cancelled')) AS queued,
       (SELECT count(*)::int FROM r) AS running
     FROM "Sweep" WHERE id = $1::uuid`,
    id,
  );
  if (!row?.status) throw new NotFoundError(`no sweep ${id}`);
  if (row.status === "creating") throw new ConflictError(`sweep ${id} is still being created`);
  const rest = cancelQueued(deps, id);
  if (background)
    rest.catch(() => {}); // the sweeper marks what is left
  else await rest;
  return { id, status: "cancelled", cancelled: row.queued + row.running, signalled: row.running };
}

/** The queued trials of a cancelled sweep become cancelled, and the jobs of its cancelled trials go. */
async function cancelQueued(deps: SweepDeps, id: string) {
  await deps.db.$executeRawUnsafe(
    `UPDATE "Trial" t SET status = 'cancelled', "finishedAt" = now(), "updatedAt" = now()
     FROM "Sweep" s WHERE s.id = t."sweepId" AND t."sweepId" = $1::uuid AND t.status = 'queued' AND s.status = 'cancelled'`,
    id,
  );
  // (a job that a worker holds stays: its lease renewal stops the trial, and the job completes)
  const rows = await deps.db.$queryRawUnsafe<Array<{ id: string }>>(
    `SELECT id::text AS id FROM "Trial" WHERE "sweepId" = $1::uuid AND status = 'cancelled'`,
    id,
  );
  return removeJobs(
    deps.trialQueue,
    rows.map((r) => r.id),
  );
}
