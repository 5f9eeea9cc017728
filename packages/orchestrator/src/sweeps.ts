// Sweep lifecycle on Postgres (the record) and BullMQ (the transport): create, read, cancel,
// retry, extend. Every write commits rows first and enqueues after, so a crash in between leaves
// queued rows the reconciler re-enqueues, never a job without a row.
import type { Db } from "@powersweep/db";
import { type CancelMessage, cancelChannel, enqueueTrials, type TrialQueue } from "@powersweep/queue";
import type { ExtendDocument, GridSweep, SweepDocument } from "@powersweep/spec";
import {
  type ExpandedTrial,
  expandSweep,
  expandSweepInChunks,
  extendSweep,
  type ImportedTrial,
  importedTrials,
  type SweepSize,
  sweepSize,
} from "@powersweep/sweep";
import type { Redis } from "ioredis";

export interface SweepDeps {
  db: Db;
  trialQueue: TrialQueue;
  /** Connection used to publish cancel notices. */
  redis: Redis;
  redisPrefix: string;
  maxTrialsPerSweep: number;
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
/** Trials shown by a dry run. */
export const PREVIEW_TRIALS = 20;

const KIND = { "lr-grid": "lr_grid", "power-grid": "power_grid", import: "import" } as const;

const INSERT_SQL = `
INSERT INTO "Trial" ("id","sweepId","key","config","model","dModel","tokens","batchSize","lr","powerA","powerB","seed",
  "status","trainLoss","testLoss","testPerplexity","finishedAt","updatedAt")
SELECT gen_random_uuid(), $2::uuid, x.key, x.config, x.model, x."dModel", x.tokens, x."batchSize", x.lr, x."powerA", x."powerB", x.seed,
  $3::text::"TrialStatus", x."trainLoss", x."testLoss", x."testPerplexity",
  CASE WHEN $3::text = 'succeeded' THEN now() END, now()
FROM jsonb_to_recordset($1::jsonb) AS x(key text, config jsonb, model text, "dModel" int, tokens float8, "batchSize" int,
  lr float8, "powerA" float8, "powerB" float8, seed int, "trainLoss" float8, "testLoss" float8, "testPerplexity" float8)
ON CONFLICT ("sweepId","key") DO NOTHING
RETURNING id`;

type Tx = Pick<Db, "$queryRawUnsafe">;

/** Inserts trials of one sweep (one multi-row statement); returns the ids of rows that were new. */
async function insertTrials(
  tx: Tx,
  sweepId: string,
  trials: Array<ExpandedTrial | ImportedTrial>,
  status: "queued" | "succeeded",
) {
  const rows = await tx.$queryRawUnsafe<Array<{ id: string }>>(INSERT_SQL, JSON.stringify(trials), sweepId, status);
  return rows.map((r) => r.id);
}

/** What a POST /sweeps answers (and a dry run, without an id). */
export interface CreatedSweep {
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

/**
 * Creates a sweep: all trial rows in one transaction (chunked multi-row inserts, yielding between
 * chunks), commit, then enqueue in addBulk chunks. Imports are stored as succeeded trials.
 */
export async function createSweep(
  deps: SweepDeps,
  doc: SweepDocument,
  { dryRun = false, owner }: { dryRun?: boolean; owner?: string } = {},
): Promise<CreatedSweep> {
  const size = checkSize(doc, deps.maxTrialsPerSweep);
  const base = { name: doc.name, kind: doc.kind, size };
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
  const isImport = doc.kind === "import";
  const { sweep, ids } = await deps.db.$transaction(
    async (tx) => {
      const sweep = await tx.sweep.create({
        data: {
          name: doc.name,
          kind: KIND[doc.kind],
          spec: doc as object,
          status: isImport ? "completed" : "queued",
          finishedAt: isImport ? new Date() : null,
          owner: owner ?? null,
          tags: doc.tags ?? [],
          trainer: doc.trainer ?? "tfjs",
          priority: doc.priority ?? 0,
          maxAttempts: doc.maxAttempts ?? 3,
        },
      });
      const ids: string[] = [];
      if (doc.kind === "import") {
        const rows = importedTrials(doc);
        for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
          ids.push(...(await insertTrials(tx, sweep.id, rows.slice(i, i + INSERT_CHUNK), "succeeded")));
        }
      } else {
        for await (const chunk of expandSweepInChunks(doc, INSERT_CHUNK))
          ids.push(...(await insertTrials(tx, sweep.id, chunk, "queued")));
      }
      await tx.sweep.update({ where: { id: sweep.id }, data: { trialCount: ids.length } });
      return { sweep, ids };
    },
    { timeout: 600_000, maxWait: 30_000 },
  );
  if (!isImport) {
    await enqueueTrials(
      deps.trialQueue,
      ids.map((id) => ({ id, sweepId: sweep.id, priority: sweep.priority, maxAttempts: sweep.maxAttempts })),
    );
  }
  return {
    id: sweep.id,
    ...base,
    status: sweep.status,
    trialCount: ids.length,
    duplicates: size.trials - ids.length,
    dryRun: false,
  };
}

export type StatusCounts = Record<"queued" | "running" | "succeeded" | "failed" | "diverged" | "cancelled", number>;

const emptyCounts = (): StatusCounts => ({ queued: 0, running: 0, succeeded: 0, failed: 0, diverged: 0, cancelled: 0 });

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
    kind: s.kind.replace("_", "-"),
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

/** A sweep with its document, status and trial counts per status. */
export async function getSweep(db: Db, id: string) {
  const s = await db.sweep.findUnique({ where: { id } });
  if (!s) throw new NotFoundError(`no sweep ${id}`);
  const c = (await countsFor(db, [id])).get(id);
  const speed = await db.trial.aggregate({
    where: { sweepId: id, status: "succeeded" },
    _avg: { tokensPerSecond: true },
  });
  const running = c?.counts.running ?? 0;
  const perTrial = speed._avg.tokensPerSecond;
  return {
    ...summary(s),
    spec: s.spec,
    counts: c?.counts ?? emptyCounts(),
    remainingTokens: c?.remainingTokens ?? 0,
    tokensPerSecond: perTrial && running ? perTrial * running : null,
  };
}

export interface Page {
  limit?: number;
  offset?: number;
}

export async function listSweeps(
  db: Db,
  { status, tag, limit = 50, offset = 0 }: Page & { status?: string; tag?: string } = {},
) {
  const where = {
    ...(status ? { status: status as "queued" } : {}),
    ...(tag ? { tags: { has: tag } } : {}),
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
  return { ...t, metrics };
}

async function removeJobs(queue: TrialQueue, ids: string[]): Promise<number> {
  let removed = 0;
  for (let i = 0; i < ids.length; i += 500) {
    const results = await Promise.all(ids.slice(i, i + 500).map((id) => queue.remove(id).catch(() => 0)));
    removed += results.filter((r) => r === 1).length;
    await new Promise((r) => setImmediate(r));
  }
  return removed;
}

/**
 * Cancels a sweep: queued trials are marked cancelled and their jobs removed; running trials are
 * told to stop on the cancel channel (the worker marks them cancelled).
 */
export async function cancelSweep(deps: SweepDeps, id: string) {
  const s = await deps.db.sweep.findUnique({ where: { id }, select: { id: true, status: true } });
  if (!s) throw new NotFoundError(`no sweep ${id}`);
  const queued = await deps.db.$queryRawUnsafe<Array<{ id: string }>>(
    `UPDATE "Trial" SET status = 'cancelled', "finishedAt" = now(), "updatedAt" = now()
     WHERE "sweepId" = $1::uuid AND status = 'queued' RETURNING id::text AS id`,
    id,
  );
  await deps.db.sweep.update({ where: { id }, data: { status: "cancelled", finishedAt: new Date() } });
  const removedJobs = await removeJobs(
    deps.trialQueue,
    queued.map((r) => r.id),
  );
  const running = await deps.db.trial.findMany({ where: { sweepId: id, status: "running" }, select: { id: true } });
  if (running.length) {
    const msg: CancelMessage = { sweepId: id, trialIds: running.map((r) => r.id) };
    await deps.redis.publish(cancelChannel(deps.redisPrefix), JSON.stringify(msg));
  }
  return { id, status: "cancelled", cancelled: queued.length, removedJobs, signalled: running.length };
}

/** Queues again the trials that failed by crashing (errorClass "crash"), each as a new job. */
export async function retrySweep(deps: SweepDeps, id: string) {
  const s = await deps.db.sweep.findUnique({ where: { id } });
  if (!s) throw new NotFoundError(`no sweep ${id}`);
  if (s.status === "cancelled") throw new ConflictError(`sweep ${id} is cancelled`);
  const rows = await deps.db.$queryRawUnsafe<Array<{ id: string }>>(
    `UPDATE "Trial" SET status = 'queued', error = NULL, "errorClass" = NULL, "workerId" = NULL, "startedAt" = NULL,
       "finishedAt" = NULL, "updatedAt" = now()
     WHERE "sweepId" = $1::uuid AND status = 'failed' AND "errorClass" = 'crash' RETURNING id::text AS id`,
    id,
  );
  const ids = rows.map((r) => r.id);
  if (ids.length) {
    await deps.db.sweep.update({ where: { id }, data: { status: "running", finishedAt: null } });
    // The failed job keeps its id in Redis; remove it so the new job is not a no-op.
    await removeJobs(deps.trialQueue, ids);
    await enqueueTrials(
      deps.trialQueue,
      ids.map((t) => ({ id: t, sweepId: id, priority: s.priority, maxAttempts: s.maxAttempts })),
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
        ids.push(...(await insertTrials(tx, id, fresh.slice(i, i + INSERT_CHUNK), "queued")));
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
    ids.map((t) => ({ id: t, sweepId: id, priority: s.priority, maxAttempts: s.maxAttempts })),
  );
  return { id, dryRun: false, added: ids.length, trialCount: existing.size + ids.length, size };
}
