// New trial rows of one sweep: an INSERT from JSON (imports, and grid chunks on Prisma), a compact
// INSERT for grid chunks (the parts every trial shares sent once), and COPY rows for an accept on
// a plain pool. Their columns come from trialRow.ts.
import { randomUUID } from "node:crypto";
import { copyText } from "@powersweep/db";
import type { ExpandedTrial, ImportedTrial } from "@powersweep/sweep";
import { queryRows, type SqlClient } from "./sql.ts";
import {
  columnList,
  columnsOf,
  IMPORTED_RESULT_COLUMNS,
  recordDefinition,
  TRIAL_EXPANSION_COLUMNS,
  type TrialColumn,
} from "./trialRow.ts";

/** The columns every new trial writes first: its key and config, then its axis values. */
const NEW_TRIAL_COLUMNS = [
  { name: "key", type: "text" },
  { name: "config", type: "jsonb" },
  ...TRIAL_EXPANSION_COLUMNS,
] as const satisfies readonly TrialColumn[];

const INSERT_SQL = `
INSERT INTO "Trial" ("id","sweepId",${columnList(NEW_TRIAL_COLUMNS)},"status",${columnList(IMPORTED_RESULT_COLUMNS)},"finishedAt","updatedAt")
SELECT gen_random_uuid(), $2::uuid, ${columnsOf("x", NEW_TRIAL_COLUMNS)},
  COALESCE(x.status, $3::text)::"TrialStatus", ${columnsOf("x", IMPORTED_RESULT_COLUMNS)},
  CASE WHEN COALESCE(x.status, $3::text) <> 'queued' THEN now() END, now()
FROM jsonb_to_recordset($1::jsonb) AS x(${recordDefinition(NEW_TRIAL_COLUMNS)}, ${recordDefinition(IMPORTED_RESULT_COLUMNS)},
  status text)
ON CONFLICT ("sweepId","key") DO NOTHING
RETURNING id`;

/**
 * Inserts trials of one sweep (one multi-row statement); returns the ids of rows that were new. An
 * imported trial's own status (succeeded, diverged, failed) wins over `status`.
 */
export async function insertTrials(
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
INSERT INTO "Trial" ("id","sweepId",${columnList(NEW_TRIAL_COLUMNS)},"status","updatedAt")
SELECT gen_random_uuid(), $2::uuid, x."key",
  $3::jsonb || jsonb_build_object('model', $4::jsonb -> x.m, 'schedule', $5::jsonb -> x.s, 'tokens', x.tokens,
    'batchSize', x."batchSize", 'seed', x.seed),
  ${columnsOf("x", TRIAL_EXPANSION_COLUMNS)}, 'queued', now()
FROM jsonb_to_recordset($1::jsonb) AS x("key" text, m int, s int, ${recordDefinition(TRIAL_EXPANSION_COLUMNS)})
ON CONFLICT ("sweepId","key") DO NOTHING
RETURNING id`;

/** The fields of a grid trial's config that vary from trial to trial; the rest is the same for the whole sweep. */
const VARYING = new Set(["model", "schedule", "tokens", "batchSize", "seed"]);

/** The expansion columns' names, and which of them hold text (the rest hold numbers). */
const EXPANSION_NAMES = TRIAL_EXPANSION_COLUMNS.map((c) => c.name);
const EXPANSION_TEXT = TRIAL_EXPANSION_COLUMNS.map((c: TrialColumn) => c.type === "text" || c.type === "uuid");
/** `,"dModel":` and so on: each expansion column's name as a JSON member of a compact row. */
const EXPANSION_MEMBERS = EXPANSION_NAMES.map((name) => `,${JSON.stringify(name)}:`);

/**
 * A chunk of grid trials as INSERT_GRID_SQL's parameters: the config parts every trial shares are
 * sent once, models and schedules once each, and a row carries indexes into them and its axis
 * values (about a quarter of the bytes of full configs, for Node to write and Postgres to parse).
 * Postgres assembles the same jsonb config. Null when the trials do not share those parts (then
 * each trial's config is sent whole).
 */
export function compactGridChunk(trials: ExpandedTrial[]): unknown[] | null {
  const first = trials[0]?.config as unknown as Record<string, unknown> | undefined;
  if (!first) return null;
  const fixedKeys = Object.keys(first).filter((k) => !VARYING.has(k));
  const models = new Map<unknown, number>();
  const schedules = new Map<unknown, number>();
  // The rows' JSON is written directly (the same text JSON.stringify gives for these fields, without
  // an intermediate object per trial).
  const rows: string[] = [];
  for (const t of trials) {
    const c = t.config as unknown as Record<string, unknown>;
    if (Object.keys(c).length !== fixedKeys.length + VARYING.size) return null;
    for (const k of fixedKeys) if (c[k] !== first[k]) return null;
    if (c.tokens !== t.tokens || c.batchSize !== t.batchSize || c.seed !== t.seed) return null;
    if (!models.has(c.model)) models.set(c.model, models.size);
    if (!schedules.has(c.schedule)) schedules.set(c.schedule, schedules.size);
    let row = `{"key":${JSON.stringify(t.key)},"m":${models.get(c.model)},"s":${schedules.get(c.schedule)}`;
    for (let j = 0; j < EXPANSION_NAMES.length; j++) {
      const x = t[EXPANSION_NAMES[j] as keyof ExpandedTrial];
      row += `${EXPANSION_MEMBERS[j]}${x == null ? "null" : EXPANSION_TEXT[j] ? JSON.stringify(x) : Number.isFinite(x) ? x : "null"}`;
    }
    rows.push(`${row}}`);
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
export async function insertGridTrials(sql: SqlClient, sweepId: string, trials: ExpandedTrial[]) {
  const compact = compactGridChunk(trials);
  if (!compact) return insertTrials(sql, sweepId, trials, "queued");
  const [rowsJson, fixed, models, schedules] = compact;
  const params = [rowsJson, sweepId, fixed, models, schedules];
  const rows = await queryRows<{ id: string }>(sql, INSERT_GRID_SQL, params, "ps_insert_grid_trials");
  return rows.map((r) => r.id);
}

const COPY_TRIALS_SQL = `COPY "Trial" ("id","sweepId",${columnList(NEW_TRIAL_COLUMNS)},"status","updatedAt") FROM STDIN`;

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
  const text = memo(copyField);
  const shares = (c: Record<string, unknown>) => {
    if (Object.keys(c).length !== fixedKeys.length + VARYING.size) return false;
    for (const k of fixedKeys) if (c[k] !== first?.[k]) return false;
    return typeof c.tokens === "number" && typeof c.batchSize === "number" && typeof c.seed === "number";
  };
  const tail = `\tqueued\t${updatedAt.toISOString()}\n`;
  let out = "";
  for (let i = 0; i < trials.length; i++) {
    const t = trials[i] as ExpandedTrial;
    const c = t.config as unknown as Record<string, unknown>;
    const config = shares(c)
      ? `{${fixedJson},"model":${render(c.model)},"schedule":${render(c.schedule)},"tokens":${c.tokens},"batchSize":${c.batchSize},"seed":${c.seed}}`
      : copyField(JSON.stringify(c));
    out += `${ids[i]}\t${sweepId}\t${t.key}\t${config}`;
    for (let j = 0; j < EXPANSION_NAMES.length; j++) {
      const x = t[EXPANSION_NAMES[j] as keyof ExpandedTrial];
      out += x == null ? "\t\\N" : EXPANSION_TEXT[j] ? `\t${text(x as string)}` : `\t${x}`;
    }
    out += tail;
  }
  return out;
}

/**
 * Inserts the trials of a new grid sweep with COPY (one statement, committed on its own); returns
 * their ids. Only for trials the sweep cannot already hold (a new sweep: the expansion yields each
 * key once); a duplicate key fails the whole chunk.
 */
export async function copyGridTrials(pool: Parameters<typeof copyText>[0], sweepId: string, trials: ExpandedTrial[]) {
  const ids = trials.map(() => randomUUID());
  await copyText(pool, COPY_TRIALS_SQL, gridCopyRows(sweepId, trials, ids, new Date()));
  return ids;
}
