// Accepting a sweep (POST /sweeps): expansion, the chunked insert behind a `creating` status, the
// enqueueing of each chunk as it commits, and the Idempotency-Key replay.

import type { Db } from "@powersweep/db";
import { enqueueTrials } from "@powersweep/queue";
import {
  type GridSweep,
  type SweepDocument,
  type SweepKindColumn,
  sweepKindColumn,
  sweepKindOfColumn,
} from "@powersweep/spec";
import type { TokenPlan } from "@powersweep/spec/api";
import {
  addToTokenPlan,
  checkPowerGrid,
  type ExpandedTrial,
  expandSweep,
  expandSweepInChunks,
  type ImportedTrial,
  importedTrials,
  type SweepSize,
  sweepSize,
} from "@powersweep/sweep";
import { runnableIds } from "./branches.ts";
import { canCopy, queryRows, type SqlClient } from "./sql.ts";
import type { SweepDeps } from "./sweeps.ts";
import { copyGridTrials, insertGridTrials, insertTrials } from "./trialInsert.ts";

export class SweepTooLargeError extends Error {
  override name = "SweepTooLargeError";
  constructor(
    public readonly size: SweepSize,
    public readonly cap: number,
  ) {
    super(`${size.description} > cap of ${cap} (MAX_TRIALS_PER_SWEEP)`);
  }
}

/** Rows inserted per statement (one JSON parameter each). */
export const INSERT_CHUNK = 1000;
/** Chunks of a grid sweep's accept inserted but not yet enqueued, at most (bounds memory). */
export const ACCEPT_AHEAD = 4;
/** Sizes of an accept's first insert chunks (then INSERT_CHUNK); see rampedChunks. */
export const ACCEPT_FIRST_CHUNKS = [250, 250, 500];
/** Jobs per addBulk while accepting: small, so no single call holds the event loop long. */
export const ACCEPT_ENQUEUE_CHUNK = 250;
/** A sweep being created shows it is alive (updatedAt) this often; see reconcile's abandonedAfterMs. */
export const CREATING_HEARTBEAT_MS = 5_000;
/** Trials shown by a dry run. */
export const PREVIEW_TRIALS = 20;

/** What a POST /sweeps answers (and a dry run, without an id). */
export interface CreatedSweep {
  /** Not part of the answer: the sweep existed already under the request's Idempotency-Key. */
  replayed?: boolean;
  id: string | null;
  name: string;
  kind: SweepDocument["kind"];
  status: string;
  trialCount: number;
  /** Points the document listed that collapsed into an identical trial. */
  duplicates: number;
  size: SweepSize;
  dryRun: boolean;
  /** The first trials (dry run only). */
  trials?: Array<ExpandedTrial | ImportedTrial>;
  /** What the document measures badly (power-grids clamped at η_max: packages/sweep checkPowerGrid). */
  warnings: string[];
  /** Tokens the trials train with shared trunks against each from scratch (grid sweeps). */
  trainingTokens?: TokenPlan;
}

function preview(doc: SweepDocument) {
  const out = [];
  if (doc.kind === "import") return importedTrials(doc).slice(0, PREVIEW_TRIALS);
  for (const t of expandSweep(doc)) {
    out.push(t);
    if (out.length >= PREVIEW_TRIALS) break;
  }
  return out;
}

/** Refuses sweeps past the cap from axis sizes alone, before anything is expanded. */
export function checkSize(doc: SweepDocument, cap: number): SweepSize {
  const size = sweepSize(doc);
  if (size.trials > cap) throw new SweepTooLargeError(size, cap);
  return size;
}

/** The unique trials of a grid, and the tokens they train with shared trunks against from scratch. */
async function countUnique(doc: GridSweep): Promise<{ n: number; trainingTokens: TokenPlan }> {
  let n = 0;
  const trainingTokens = { planned: 0, fromScratch: 0 };
  for await (const chunk of expandSweepInChunks(doc, 5000)) {
    n += chunk.length;
    for (const t of chunk) addToTokenPlan(trainingTokens, t);
  }
  return { n, trainingTokens };
}

/** The Sweep row of a new sweep (its status is set by the caller). */
function sweepData(doc: SweepDocument, owner: string | undefined, idempotencyKey: string | undefined) {
  return {
    name: doc.name,
    kind: sweepKindColumn(doc.kind),
    idempotencyKey: idempotencyKey ?? null,
    spec: doc as object,
    owner: owner ?? null,
    tags: doc.tags ?? [],
    trainer: doc.trainer ?? "tfjs",
    priority: doc.priority ?? 0,
    maxAttempts: doc.maxAttempts ?? 3,
  };
}

/**
 * Creates a sweep. Imports (finished trials, nothing to enqueue) are written in one transaction.
 * Grid sweeps are accepted in a pipeline (acceptGrid): the sweep is `creating` while chunks of
 * trial rows are inserted and, as each chunk commits, its jobs are enqueued; it becomes queued
 * only when every trial is written and enqueued. A failure removes the sweep and its jobs.
 */
export async function createSweep(
  deps: SweepDeps,
  doc: SweepDocument,
  { dryRun = false, owner, idempotencyKey }: { dryRun?: boolean; owner?: string; idempotencyKey?: string } = {},
): Promise<CreatedSweep> {
  if (idempotencyKey && !dryRun) {
    const existing = await sweepByIdempotencyKey(deps.db, idempotencyKey);
    if (existing) return existing;
  }
  try {
    return await createNewSweep(deps, doc, { dryRun, owner, idempotencyKey });
  } catch (err) {
    // Two submits with one key at the same time: the second insert hits the unique key.
    const existing =
      idempotencyKey && isUniqueViolation(err) ? await sweepByIdempotencyKey(deps.db, idempotencyKey) : null;
    if (existing) return existing;
    throw err;
  }
}

const isUniqueViolation = (e: unknown) =>
  (e as { code?: unknown } | null)?.code === "23505" || (e as { code?: unknown } | null)?.code === "P2002";

/** The sweep a submit with this Idempotency-Key created, as createSweep answered it. */
export async function sweepByIdempotencyKey(db: Db, idempotencyKey: string): Promise<CreatedSweep | null> {
  const s = await db.sweep.findUnique({ where: { idempotencyKey } });
  if (!s) return null;
  const doc = s.spec as unknown as SweepDocument;
  const size = sweepSize(doc);
  return {
    id: s.id,
    name: s.name,
    kind: sweepKindOfColumn(s.kind as SweepKindColumn),
    status: s.status,
    trialCount: s.trialCount,
    duplicates: Math.max(0, size.trials - s.trialCount),
    size,
    dryRun: false,
    warnings: doc.kind === "import" ? [] : checkPowerGrid(doc).warnings,
    replayed: true,
  };
}

async function createNewSweep(
  deps: SweepDeps,
  doc: SweepDocument,
  { dryRun, owner, idempotencyKey }: { dryRun: boolean; owner?: string; idempotencyKey?: string },
): Promise<CreatedSweep> {
  const size = checkSize(doc, deps.maxTrialsPerSweep);
  const base = {
    name: doc.name,
    kind: doc.kind,
    size,
    warnings: doc.kind === "import" ? [] : checkPowerGrid(doc).warnings,
  };
  if (dryRun) {
    const unique =
      doc.kind === "import" ? { n: importedTrials(doc).length, trainingTokens: undefined } : await countUnique(doc);
    const trialCount = unique.n;
    return {
      id: null,
      ...base,
      status: "dry-run",
      trialCount,
      duplicates: size.trials - trialCount,
      dryRun: true,
      trials: preview(doc),
      ...(unique.trainingTokens ? { trainingTokens: unique.trainingTokens } : {}),
    };
  }
  if (doc.kind !== "import") {
    const { id, status, trialCount, trainingTokens } = await acceptGrid(deps, doc, owner, idempotencyKey);
    return { id, ...base, status, trialCount, duplicates: size.trials - trialCount, dryRun: false, trainingTokens };
  }
  const { sweep, ids } = await deps.db.$transaction(
    async (tx) => {
      const sweep = await tx.sweep.create({
        data: { ...sweepData(doc, owner, idempotencyKey), status: "completed", finishedAt: new Date() },
      });
      const ids: string[] = [];
      const rows = importedTrials(doc);
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        ids.push(...(await insertTrials(tx, sweep.id, rows.slice(i, i + INSERT_CHUNK), "succeeded")));
      }
      await tx.sweep.update({ where: { id: sweep.id }, data: { trialCount: ids.length } });
      return { sweep, ids };
    },
    { timeout: 600_000, maxWait: 30_000 },
  );
  return {
    id: sweep.id,
    ...base,
    status: sweep.status,
    trialCount: ids.length,
    duplicates: size.trials - ids.length,
    dryRun: false,
  };
}

/**
 * Accepts a grid sweep, persisting and enqueueing at the same time:
 *  1. the Sweep row commits as `creating` (no read, list or reconciler treats it as accepted);
 *  2. trials are expanded in chunks; each chunk is one COPY on `deps.sql` when it is a pg pool
 *     (ids made in Node; an INSERT otherwise), several in parallel when the pool has several
 *     connections, and as soon as it commits its jobs are added, in
 *     chunk order, while the next chunks are inserted. A job is only ever added after its row
 *     committed, as everywhere else;
 *  3. the sweep becomes queued (running if a worker already started one of its trials) in one
 *     synchronous commit, which also makes the chunk commits durable.
 * Any failure deletes the sweep (its trials cascade) and removes the jobs added, then rethrows:
 * nothing is half-accepted. A process that dies mid-accept leaves a `creating` sweep whose
 * heartbeat (updatedAt) stops; the reconciler deletes it and its jobs (reconcile, abandonedAfterMs).
 */
async function acceptGrid(
  deps: SweepDeps,
  doc: GridSweep,
  owner: string | undefined,
  idempotencyKey: string | undefined,
): Promise<{ id: string; status: string; trialCount: number; trainingTokens: TokenPlan }> {
  const sql = deps.sql ?? deps.db;
  // On `sql` (whose commits may be asynchronous): a `creating` sweep is worthless until the final,
  // synchronous commit below, so it need not wait for its own WAL flush.
  const data = sweepData(doc, owner, idempotencyKey);
  const [created] = await queryRows<{ id: string }>(
    sql,
    `INSERT INTO "Sweep" (id, name, kind, spec, status, owner, tags, trainer, priority, "maxAttempts", "idempotencyKey",
       "updatedAt")
     VALUES (gen_random_uuid(), $1, $2::text::"SweepKind", $3::jsonb, 'creating', $4, $5::text[], $6, $7, $8, $9, now())
     RETURNING id::text AS id`,
    [
      data.name,
      data.kind,
      JSON.stringify(doc),
      data.owner,
      data.tags,
      data.trainer,
      data.priority,
      data.maxAttempts,
      data.idempotencyKey,
    ],
  );
  if (!created) throw new Error("the sweep row was not created");
  const sweep = { id: created.id, priority: data.priority, maxAttempts: data.maxAttempts };
  const job = (id: string) => ({ id, sweepId: sweep.id, priority: sweep.priority });
  let trialCount = 0;
  const trainingTokens: TokenPlan = { planned: 0, fromScratch: 0 };
  let enqueueTail: Promise<void> = Promise.resolve();
  const inFlight = new Set<Promise<void>>();
  let lastBeat = Date.now();
  const state: { failure?: { error: unknown } } = {};
  try {
    for await (const chunk of rampedChunks(expandSweepInChunks(doc, ACCEPT_FIRST_CHUNKS[0]))) {
      if (state.failure) throw state.failure.error;
      for (const t of chunk) addToTokenPlan(trainingTokens, t);
      while (inFlight.size >= ACCEPT_AHEAD) await Promise.race(inFlight);
      if (Date.now() - lastBeat >= CREATING_HEARTBEAT_MS) {
        lastBeat = Date.now();
        await heartbeat(sql, sweep.id);
      }
      const copy = canCopy(sql);
      const inserted = copy ? copyGridTrials(sql, sweep.id, chunk) : insertGridTrials(sql, sweep.id, chunk);
      inserted.catch(() => {}); // observed through the link below
      const link: Promise<void> = Promise.all([enqueueTail, inserted]).then(async ([, ids]) => {
        // A branch waiting for its trunk checkpoint gets its job when the checkpoint exists (branches.ts).
        const runnable = await runnableIds(sql, chunk, ids, copy);
        await enqueueTrials(deps.trialQueue, runnable.map(job), ACCEPT_ENQUEUE_CHUNK);
        trialCount += ids.length;
      });
      enqueueTail = link;
      inFlight.add(link);
      link.then(
        () => inFlight.delete(link),
        (error) => {
          state.failure ??= { error }; // a failed link stays in the set too: the next race rethrows it
        },
      );
    }
    await Promise.all(inFlight);
    // The sweep's trials become claimable with this commit (workers skip a `creating` sweep's jobs
    // until then: claimBlocker).
    const rows = await deps.db.$queryRawUnsafe<Array<{ status: string }>>(
      `UPDATE "Sweep" s SET "trialCount" = $2, "updatedAt" = now(), status = 'queued'
       WHERE s.id = $1::uuid AND s.status = 'creating' RETURNING s.status::text AS status`,
      sweep.id,
      trialCount,
    );
    const status = rows[0]?.status;
    if (!status) throw new Error(`sweep ${sweep.id} was removed while it was being created`);
    return { id: sweep.id, status, trialCount, trainingTokens };
  } catch (err) {
    await Promise.allSettled(inFlight);
    await abandonSweep(deps.db, sweep.id).catch(() => {
      // Left as `creating` without a heartbeat: the sweeper removes it.
    });
    throw err;
  }
}

/**
 * Re-chunks trials into ACCEPT_FIRST_CHUNKS' sizes, then INSERT_CHUNK: small first chunks start the
 * enqueueing (which waits for its chunk's commit) early, so even a small sweep overlaps the two.
 */
async function* rampedChunks<T>(source: AsyncIterable<T[]>): AsyncGenerator<T[]> {
  let i = 0;
  let batch: T[] = [];
  for await (const part of source) {
    for (const t of part) {
      batch.push(t);
      if (batch.length >= (ACCEPT_FIRST_CHUNKS[i] ?? INSERT_CHUNK)) {
        yield batch;
        batch = [];
        i++;
      }
    }
  }
  if (batch.length) yield batch;
}

async function heartbeat(sql: SqlClient, sweepId: string) {
  const rows = await queryRows(
    sql,
    `UPDATE "Sweep" SET "updatedAt" = now() WHERE id = $1::uuid AND status = 'creating' RETURNING id`,
    [sweepId],
  );
  if (rows.length !== 1) throw new Error(`sweep ${sweepId} was removed while it was being created`);
}

/**
 * Removes a sweep that was never accepted (status `creating`; its trials cascade). Its jobs are left:
 * no worker claims a trial of a `creating` sweep, and once the rows are gone a job finds nothing and
 * completes without training.
 */
export async function abandonSweep(db: Db, sweepId: string) {
  return db.$executeRawUnsafe(`DELETE FROM "Sweep" WHERE id = $1::uuid AND status = 'creating'`, sweepId);
}
