// Sweep lifecycle on Postgres (the record) and BullMQ (the transport): create, read, cancel,
// resume, retry, extend. Every write commits rows first and enqueues after, so a crash in between
// leaves queued rows the sweeper (reconcile.ts) re-enqueues, never a job without a row.
import { randomUUID } from "node:crypto";
import { copyText, type Db } from "@powersweep/db";
import { enqueueTrials, type TrialQueue } from "@powersweep/queue";
import {
  type ExtendDocument,
  type GridSweep,
  type SweepDocument,
  type SweepKindColumn,
  sweepKindColumn,
  sweepKindOfColumn,
  TRIAL_STATUSES,
  type TrialStatus,
  uuidPrefixRange,
} from "@powersweep/spec";
import {
  checkPowerGrid,
  type ExpandedTrial,
  expandSweep,
  expandSweepInChunks,
  extendSweep,
  type ImportedTrial,
  importedTrials,
  type SweepSize,
  sweepSize,
} from "@powersweep/sweep";
import { trialCurve } from "./curves.ts";
import { ensureJobs, removeJobs } from "./jobs.ts";
import { canCopy, queryRows, type SqlClient } from "./sql.ts";

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

export class SweepTooLargeError extends Error {
  override name = "SweepTooLargeError";
  constructor(
    public readonly size: SweepSize,
    public readonly cap: number,
  ) {
    super(`${size.description} > cap of ${cap} (MAX_TRIALS_PER_SWEEP)`);
  }
}

export class NotFoundError extends Error {
  override name = "NotFoundError";
}

export class ConflictError extends Error {
  override name = "ConflictError";
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

const INSERT_SQL = `
INSERT INTO "Trial" ("id","sweepId","key","config","model","dModel","tokens","batchSize","lr","powerA","powerB","seed",
  "status","trainLoss","testLoss","testPerplexity","finishedAt","updatedAt")
SELECT gen_random_uuid(), $2::uuid, x.key, x.config, x.model, x."dModel", x.tokens, x."batchSize", x.lr, x."powerA", x."powerB", x.seed,
  COALESCE(x.status, $3::text)::"TrialStatus", x."trainLoss", x."testLoss", x."testPerplexity",
  CASE WHEN COALESCE(x.status, $3::text) <> 'queued' THEN now() END, now()
FROM jsonb_to_recordset($1::jsonb) AS x(key text, config jsonb, model text, "dModel" int, tokens float8, "batchSize" int,
  lr float8, "powerA" float8, "powerB" float8, seed int, "trainLoss" float8, "testLoss" float8, "testPerplexity" float8,
  status text)
ON CONFLICT ("sweepId","key") DO NOTHING
RETURNING id`;

/**
 * Inserts trials of one sweep (one multi-row statement); returns the ids of rows that were new. An
 * imported trial's own status (succeeded, diverged, failed) wins over `status`.
 */
async function insertTrials(
  sql: SqlClient,
  sweepId: string,
  trials: Array<ExpandedTrial | ImportedTrial>,
  status: "queued" | "succeeded",
) {
  const params = [JSON.stringify(trials), sweepId, status];
  const rows = await queryRows<{ id: string }>(sql, INSERT_SQL, params, "ps_insert_trials");
  return rows.map((r) => r.id);
}

const INSERT_GRID_SQL = `
INSERT INTO "Trial" ("id","sweepId","key","config","model","dModel","tokens","batchSize","lr","powerA","powerB","seed",
  "status","updatedAt")
SELECT gen_random_uuid(), $2::uuid, x.key,
  $3::jsonb || jsonb_build_object('model', $4::jsonb -> x.m, 'schedule', $5::jsonb -> x.s, 'tokens', x.tokens,
    'batchSize', x."batchSize", 'seed', x.seed),
  x.model, x."dModel", x.tokens, x."batchSize", x.lr, x."powerA", x."powerB", x.seed, 'queued', now()
FROM jsonb_to_recordset($1::jsonb) AS x(key text, m int, s int, model text, "dModel" int, tokens float8, "batchSize" int,
  lr float8, "powerA" float8, "powerB" float8, seed int)
ON CONFLICT ("sweepId","key") DO NOTHING
RETURNING id`;

/** The fields of a grid trial's config that vary from trial to trial; the rest is the same for the whole sweep. */
const VARYING = new Set(["model", "schedule", "tokens", "batchSize", "seed"]);

/**
 * A chunk of grid trials as INSERT_GRID_SQL's parameters: the config parts every trial shares are
 * sent once, models and schedules once each, and a row carries indexes into them and its numbers
 * (about a quarter of the bytes of full configs, for Node to write and Postgres to parse). Postgres
 * assembles the same jsonb config. Null when the trials do not share those parts (then each
 * trial's config is sent whole).
 */
export function compactGridChunk(trials: ExpandedTrial[]): unknown[] | null {
  const first = trials[0]?.config as unknown as Record<string, unknown> | undefined;
  if (!first) return null;
  const fixedKeys = Object.keys(first).filter((k) => !VARYING.has(k));
  const models = new Map<unknown, number>();
  const schedules = new Map<unknown, number>();
  // The rows' JSON is written directly (the same text JSON.stringify gives for these fields, without
  // an intermediate object per trial).
  const num = (x: number | null) => (x === null ? "null" : JSON.stringify(x));
  const rows: string[] = [];
  for (const t of trials) {
    const c = t.config as unknown as Record<string, unknown>;
    if (Object.keys(c).length !== fixedKeys.length + VARYING.size) return null;
    for (const k of fixedKeys) if (c[k] !== first[k]) return null;
    if (c.tokens !== t.tokens || c.batchSize !== t.batchSize || c.seed !== t.seed) return null;
    if (!models.has(c.model)) models.set(c.model, models.size);
    if (!schedules.has(c.schedule)) schedules.set(c.schedule, schedules.size);
    const m = models.get(c.model);
    const s = schedules.get(c.schedule);
    rows.push(
      `{"key":${JSON.stringify(t.key)},"m":${m},"s":${s},"model":${JSON.stringify(t.model)},"dModel":${num(t.dModel)},"tokens":${num(t.tokens)},"batchSize":${num(t.batchSize)},"lr":${num(t.lr)},"powerA":${num(t.powerA)},"powerB":${num(t.powerB)},"seed":${num(t.seed)}}`,
    );
  }
  const fixed = Object.fromEntries(fixedKeys.map((k) => [k, first[k]]));
  return [
    `[${rows.join(",")}]`,
    JSON.stringify(fixed),
    JSON.stringify([...models.keys()]),
    JSON.stringify([...schedules.keys()]),
  ];
}

/** Inserts queued grid trials of one sweep (one statement); returns the ids of rows that were new. */
async function insertGridTrials(sql: SqlClient, sweepId: string, trials: ExpandedTrial[]) {
  const compact = compactGridChunk(trials);
  if (!compact) return insertTrials(sql, sweepId, trials, "queued");
  const [rowsJson, fixed, models, schedules] = compact;
  const params = [rowsJson, sweepId, fixed, models, schedules];
  const rows = await queryRows<{ id: string }>(sql, INSERT_GRID_SQL, params, "ps_insert_grid_trials");
  return rows.map((r) => r.id);
}

const COPY_TRIALS_SQL = `COPY "Trial" ("id","sweepId","key","config","model","dModel","tokens","batchSize","lr","powerA","powerB",
  "seed","status","updatedAt") FROM STDIN`;

/** Text as a field of COPY's text format: backslash, tab, newline and carriage return escaped. */
const copyField = (text: string) =>
  /[\\\t\n\r]/.test(text)
    ? text.replace(/[\\\t\n\r]/g, (c) => (c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r"))
    : text;
/** `f` remembering its answer per argument (by identity for objects). */
function memo<A, R>(f: (a: A) => R): (a: A) => R {
  const seen = new Map<A, R>();
  return (a) => {
    if (seen.has(a)) return seen.get(a) as R;
    const r = f(a);
    seen.set(a, r);
    return r;
  };
}
const copyNumber = (x: number | null) => (x === null ? "\\N" : String(x));

/**
 * New grid trials of one sweep as rows of COPY's text format, with their ids (made here, so
 * nothing is read back) and `updatedAt` (UTC, as Prisma writes it). Each config is the JSON of the
 * expansion's config object; the parts every trial of the chunk shares (same objects, as the
 * expansion hands them out) are rendered once, models and schedules once each.
 */
export function gridCopyRows(sweepId: string, trials: ExpandedTrial[], ids: string[], updatedAt: Date): string {
  const first = trials[0]?.config as unknown as Record<string, unknown> | undefined;
  const fixedKeys = first ? Object.keys(first).filter((k) => !VARYING.has(k)) : [];
  const fixedJson = copyField(JSON.stringify(Object.fromEntries(fixedKeys.map((k) => [k, first?.[k]]))).slice(1, -1));
  const render = memo((x: unknown) => copyField(JSON.stringify(x)));
  const name = memo(copyField);
  const shares = (c: Record<string, unknown>) => {
    if (Object.keys(c).length !== fixedKeys.length + VARYING.size) return false;
    for (const k of fixedKeys) if (c[k] !== first?.[k]) return false;
    return typeof c.tokens === "number" && typeof c.batchSize === "number" && typeof c.seed === "number";
  };
  const at = updatedAt.toISOString();
  let out = "";
  for (let i = 0; i < trials.length; i++) {
    const t = trials[i] as ExpandedTrial;
    const c = t.config as unknown as Record<string, unknown>;
    const config = shares(c)
      ? `{${fixedJson},"model":${render(c.model)},"schedule":${render(c.schedule)},"tokens":${c.tokens},"batchSize":${c.batchSize},"seed":${c.seed}}`
      : copyField(JSON.stringify(c));
    out += `${ids[i]}\t${sweepId}\t${t.key}\t${config}\t${name(t.model)}\t${copyNumber(t.dModel)}\t${t.tokens}\t${t.batchSize}\t${copyNumber(t.lr)}\t${copyNumber(t.powerA)}\t${copyNumber(t.powerB)}\t${t.seed}\tqueued\t${at}\n`;
  }
  return out;
}

/**
 * Inserts the trials of a new grid sweep with COPY (one statement, committed on its own); returns
 * their ids. Only for trials the sweep cannot already hold (a new sweep: the expansion yields each
 * key once); a duplicate key fails the whole chunk.
 */
async function copyGridTrials(pool: Parameters<typeof copyText>[0], sweepId: string, trials: ExpandedTrial[]) {
  const ids = trials.map(() => randomUUID());
  await copyText(pool, COPY_TRIALS_SQL, gridCopyRows(sweepId, trials, ids, new Date()));
  return ids;
}

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

async function countUnique(doc: GridSweep): Promise<number> {
  let n = 0;
  for await (const chunk of expandSweepInChunks(doc, 5000)) n += chunk.length;
  return n;
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
    const trialCount = doc.kind === "import" ? importedTrials(doc).length : await countUnique(doc);
    return {
      id: null,
      ...base,
      status: "dry-run",
      trialCount,
      duplicates: size.trials - trialCount,
      dryRun: true,
      trials: preview(doc),
    };
  }
  if (doc.kind !== "import") {
    const { id, status, trialCount } = await acceptGrid(deps, doc, owner, idempotencyKey);
    return { id, ...base, status, trialCount, duplicates: size.trials - trialCount, dryRun: false };
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

/** Test hooks into an accept (see the API tests); never set in production. */
export interface AcceptHooks {
  /** Called after each chunk's jobs are enqueued, with the running count of trials enqueued. */
  afterChunk?: (sweepId: string, enqueued: number) => Promise<void> | void;
}
export const acceptHooks: AcceptHooks = {};

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
): Promise<{ id: string; status: string; trialCount: number }> {
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
  let enqueueTail: Promise<void> = Promise.resolve();
  const inFlight = new Set<Promise<void>>();
  let lastBeat = Date.now();
  const state: { failure?: { error: unknown } } = {};
  try {
    for await (const chunk of rampedChunks(expandSweepInChunks(doc, ACCEPT_FIRST_CHUNKS[0]))) {
      if (state.failure) throw state.failure.error;
      while (inFlight.size >= ACCEPT_AHEAD) await Promise.race(inFlight);
      if (Date.now() - lastBeat >= CREATING_HEARTBEAT_MS) {
        lastBeat = Date.now();
        await heartbeat(sql, sweep.id);
      }
      const inserted = canCopy(sql) ? copyGridTrials(sql, sweep.id, chunk) : insertGridTrials(sql, sweep.id, chunk);
      inserted.catch(() => {}); // observed through the link below
      const link: Promise<void> = Promise.all([enqueueTail, inserted]).then(async ([, ids]) => {
        await enqueueTrials(deps.trialQueue, ids.map(job), ACCEPT_ENQUEUE_CHUNK);
        trialCount += ids.length;
        await acceptHooks.afterChunk?.(sweep.id, trialCount);
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
    return { id: sweep.id, status, trialCount };
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

export type StatusCounts = Record<TrialStatus, number>;

const emptyCounts = (): StatusCounts => Object.fromEntries(TRIAL_STATUSES.map((s) => [s, 0])) as StatusCounts;

async function countsFor(db: Db, sweepIds: string[]) {
  const out = new Map<string, { counts: StatusCounts; remainingTokens: number }>();
  for (const id of sweepIds) out.set(id, { counts: emptyCounts(), remainingTokens: 0 });
  if (!sweepIds.length) return out;
  const rows = await db.$queryRawUnsafe<
    Array<{ sweepId: string; status: keyof StatusCounts; n: number; tokens: number | null }>
  >(
    `SELECT "sweepId"::text AS "sweepId", status::text AS status, count(*)::int AS n, sum(tokens)::float8 AS tokens
     FROM "Trial" WHERE "sweepId" = ANY($1::uuid[]) GROUP BY 1, 2`,
    sweepIds,
  );
  for (const r of rows) {
    const entry = out.get(r.sweepId);
    if (!entry) continue;
    entry.counts[r.status] = r.n;
    if (r.status === "queued" || r.status === "running") entry.remainingTokens += r.tokens ?? 0;
  }
  return out;
}

function summary(s: {
  id: string;
  name: string;
  kind: string;
  status: string;
  tags: string[];
  trainer: string;
  priority: number;
  maxAttempts: number;
  trialCount: number;
  owner: string | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}) {
  return {
    id: s.id,
    name: s.name,
    kind: sweepKindOfColumn(s.kind as SweepKindColumn),
    status: s.status,
    tags: s.tags,
    trainer: s.trainer,
    priority: s.priority,
    maxAttempts: s.maxAttempts,
    trialCount: s.trialCount,
    owner: s.owner,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
    finishedAt: s.finishedAt?.toISOString() ?? null,
  };
}

const GET_SWEEP_SQL = `
WITH g AS (
  SELECT status::text AS status, count(*)::int AS n, sum(tokens)::float8 AS tokens,
    avg("tokensPerSecond") FILTER (WHERE status = 'succeeded')::float8 AS speed
  FROM "Trial" WHERE "sweepId" = $1::uuid GROUP BY 1
)
SELECT s.id::text AS id, s.name, s.kind::text AS kind, s.spec, s.status::text AS status, s.owner, s.tags, s.trainer,
  s.priority, s."maxAttempts", s."trialCount",
  to_char(s."createdAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
  to_char(s."updatedAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "updatedAt",
  to_char(s."finishedAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "finishedAt",
  (SELECT coalesce(json_agg(g), '[]'::json) FROM g) AS groups
FROM "Sweep" s WHERE s.id = $1::uuid`;

/**
 * A sweep with its document, status and trial counts per status. One statement (the sweep row and
 * its per-status counts), so a read costs one round trip and one query's CPU: reads stay fast
 * while the process is busy, e.g. accepting a large sweep.
 */
export async function getSweep(sql: SqlClient, id: string) {
  const [s] = await queryRows<{
    id: string;
    name: string;
    kind: string;
    spec: unknown;
    status: string;
    owner: string | null;
    tags: string[];
    trainer: string;
    priority: number;
    maxAttempts: number;
    trialCount: number;
    createdAt: string;
    updatedAt: string;
    finishedAt: string | null;
    groups: Array<{ status: keyof StatusCounts; n: number; tokens: number | null; speed: number | null }>;
  }>(sql, GET_SWEEP_SQL, [id], "ps_get_sweep");
  if (!s) throw new NotFoundError(`no sweep ${id}`);
  const counts = emptyCounts();
  let remainingTokens = 0;
  let perTrial: number | null = null;
  for (const g of s.groups) {
    counts[g.status] = g.n;
    if (g.status === "queued" || g.status === "running") remainingTokens += g.tokens ?? 0;
    if (g.status === "succeeded") perTrial = g.speed;
  }
  return {
    ...summary({
      ...s,
      createdAt: new Date(s.createdAt),
      updatedAt: new Date(s.updatedAt),
      finishedAt: s.finishedAt === null ? null : new Date(s.finishedAt),
    }),
    spec: s.spec,
    counts,
    remainingTokens,
    tokensPerSecond: perTrial && counts.running ? perTrial * counts.running : null,
  };
}

export interface Page {
  limit?: number;
  offset?: number;
}

export async function listSweeps(
  db: Db,
  { status, tag, idPrefix, limit = 50, offset = 0 }: Page & { status?: string; tag?: string; idPrefix?: string } = {},
) {
  const range = idPrefix ? uuidPrefixRange(idPrefix) : null;
  const where = {
    ...(status ? { status: status as "queued" } : {}),
    ...(tag ? { tags: { has: tag } } : {}),
    ...(range ? { id: { gte: range[0], lte: range[1] } } : {}),
  };
  const [rows, total] = await Promise.all([
    db.sweep.findMany({ where, orderBy: { createdAt: "desc" }, take: limit, skip: offset }),
    db.sweep.count({ where }),
  ]);
  const counts = await countsFor(
    db,
    rows.map((r) => r.id),
  );
  return {
    items: rows.map((r) => ({ ...summary(r), counts: counts.get(r.id)?.counts ?? emptyCounts() })),
    total,
    limit,
    offset,
  };
}

export interface TrialFilter extends Page {
  status?: string;
  model?: string;
  tokens?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
}

const TRIAL_LIST_FIELDS = {
  id: true,
  sweepId: true,
  key: true,
  model: true,
  dModel: true,
  tokens: true,
  batchSize: true,
  lr: true,
  powerA: true,
  powerB: true,
  seed: true,
  status: true,
  attempts: true,
  workerId: true,
  startedAt: true,
  finishedAt: true,
  trainLoss: true,
  testLoss: true,
  testPerplexity: true,
  tokensSeen: true,
  wallSeconds: true,
  tokensPerSecond: true,
  error: true,
  errorClass: true,
  createdAt: true,
  updatedAt: true,
} as const;

export async function listTrials(db: Db, sweepId: string, f: TrialFilter = {}) {
  const exists = await db.sweep.findUnique({ where: { id: sweepId }, select: { id: true } });
  if (!exists) throw new NotFoundError(`no sweep ${sweepId}`);
  const where = {
    sweepId,
    ...(f.status ? { status: f.status as "queued" } : {}),
    ...(f.model !== undefined ? { model: f.model } : {}),
    ...(f.tokens !== undefined ? { tokens: f.tokens } : {}),
    ...(f.batchSize !== undefined ? { batchSize: f.batchSize } : {}),
    ...(f.lr !== undefined ? { lr: f.lr } : {}),
    ...(f.seed !== undefined ? { seed: f.seed } : {}),
  };
  const limit = f.limit ?? 100;
  const offset = f.offset ?? 0;
  const [items, total] = await Promise.all([
    db.trial.findMany({
      where,
      select: TRIAL_LIST_FIELDS,
      orderBy: [
        { model: "asc" },
        { tokens: "asc" },
        { batchSize: "asc" },
        { lr: "asc" },
        { powerA: "asc" },
        { powerB: "asc" },
        { seed: "asc" },
        { id: "asc" },
      ],
      take: limit,
      skip: offset,
    }),
    db.trial.count({ where }),
  ]);
  return { items, total, limit, offset };
}

/** One trial with its config and loss curve. */
export async function getTrial(db: Db, id: string) {
  const t = await db.trial.findUnique({
    where: { id },
    select: { ...TRIAL_LIST_FIELDS, config: true, resultAttempt: true },
  });
  if (!t) throw new NotFoundError(`no trial ${id}`);
  const metrics = await db.trialMetric.findMany({
    where: { trialId: id },
    orderBy: { step: "asc" },
    select: { attempt: true, step: true, tokens: true, lr: true, trainLoss: true, evalLoss: true },
  });
  // The dense curve (docs/trial-curves.md) of the recorded attempt, null while none is stored.
  const curve = await trialCurve(db, id, t.resultAttempt ?? null);
  return { ...t, metrics, curve: curve?.curve ?? null, curveAttempt: curve?.attempt ?? null };
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
  await enqueueTrials(
    deps.trialQueue,
    ids.map((t) => ({ id: t, sweepId: id, priority: s.priority })),
  );
  return { id, dryRun: false, added: ids.length, trialCount: existing.size + ids.length, size };
}
