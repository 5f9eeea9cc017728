// Reading sweeps and trials: one sweep with its counts, sweep and trial lists, one trial's details.
import type { Db } from "@powersweep/db";
import {
  type SweepKindColumn,
  sweepKindOfColumn,
  TRIAL_STATUSES,
  type TrialStatus,
  uuidPrefixRange,
} from "@powersweep/spec";
import { TRIAL_TRAINING_TOKENS } from "./branches.ts";
import { trialCurve } from "./curves.ts";
import { queryRows, type SqlClient } from "./sql.ts";
import { NotFoundError } from "./sweeps.ts";
import { TRIAL_LIST_FIELDS } from "./trialRow.ts";

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
  SELECT t.status::text AS status, count(*)::int AS n, sum(${TRIAL_TRAINING_TOKENS})::float8 AS tokens,
    sum(t.tokens)::float8 AS "scratchTokens",
    avg(t."tokensPerSecond") FILTER (WHERE t.status = 'succeeded')::float8 AS speed
  FROM "Trial" t WHERE t."sweepId" = $1::uuid GROUP BY 1
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
    groups: Array<{
      status: keyof StatusCounts;
      n: number;
      /** Tokens the trials train (a branch only its decay) and the same from scratch. */
      tokens: number | null;
      scratchTokens: number | null;
      speed: number | null;
    }>;
  }>(sql, GET_SWEEP_SQL, [id], "ps_get_sweep");
  if (!s) throw new NotFoundError(`no sweep ${id}`);
  const counts = emptyCounts();
  let remainingTokens = 0;
  let perTrial: number | null = null;
  const trainingTokens = { planned: 0, fromScratch: 0 };
  for (const g of s.groups) {
    counts[g.status] = g.n;
    trainingTokens.planned += g.tokens ?? 0;
    trainingTokens.fromScratch += g.scratchTokens ?? 0;
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
    trainingTokens,
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
