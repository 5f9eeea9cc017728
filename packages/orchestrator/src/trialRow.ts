// The Trial row (prisma/schema.prisma) as the orchestrator's SQL writes and reads it, declared once.
// Every statement that inserts, copies, claims, records or lists trials takes its column lists
// from here, so a new column is added here (and in the Prisma schema), not in each statement:
//   TRIAL_EXPANSION_COLUMNS  what a new trial takes from its expansion (ExpandedTrial): the INSERT,
//                            the compact grid INSERT and the COPY rows of an accept (trialInsert.ts)
//   TRIAL_RESULT_COLUMNS     what a result sets (TrialResultRecord): the result statements (results.ts)
//   CLAIM_COLUMNS            what a claim hands to the worker (claims.ts, trialWriter.ts) and an
//                            export batch to its cluster (offline.ts)
//   TRIAL_LIST_FIELDS        what a listed trial shows (reads.ts)
import type { ExpandedTrial } from "@powersweep/sweep";

/** A Trial column: its name (as in the Prisma schema) and its SQL type. */
export interface TrialColumn<K extends string = string> {
  name: K;
  type: "text" | "int" | "float8" | "uuid" | "jsonb";
}

/** A quoted identifier: `"dModel"`. */
export const ident = (name: string) => `"${name}"`;

/** `x."a", x."b"`: the columns read from alias `x`. */
export const columnsOf = (alias: string, columns: readonly TrialColumn[]) =>
  columns.map((c) => `${alias}.${ident(c.name)}`).join(", ");

/** `"a" int, "b" text`: a record definition (jsonb_to_recordset … AS x(…)). */
export const recordDefinition = (columns: readonly TrialColumn[]) =>
  columns.map((c) => `${ident(c.name)} ${c.type}`).join(", ");

/** `"a","b"`: an INSERT or COPY column list. */
export const columnList = (columns: readonly TrialColumn[]) => columns.map((c) => ident(c.name)).join(",");

/**
 * What a new trial takes from its expansion, by the same names (ExpandedTrial, ImportedTrial; a
 * missing value is stored as null): its denormalised axis values, for filters, fits and tables. The
 * trial's key and config precede them in every insert; every listed trial shows them.
 */
export const TRIAL_EXPANSION_COLUMNS = [
  { name: "model", type: "text" },
  { name: "dModel", type: "int" },
  { name: "tokens", type: "float8" },
  { name: "batchSize", type: "int" },
  { name: "lr", type: "float8" },
  { name: "powerA", type: "float8" },
  { name: "powerB", type: "float8" },
  { name: "seed", type: "int" },
  // Shared trunks (branches.ts): the trial it branches from, and the step of that checkpoint.
  { name: "branchFrom", type: "text" },
  { name: "branchStep", type: "int" },
  // Adaptive η search (search.ts): the step that placed the trial; null for a grid point.
  { name: "placedBy", type: "text" },
] as const satisfies ReadonlyArray<TrialColumn<keyof ExpandedTrial>>;

/** The outcome an imported trial carries (ImportedTrial), as a finished trial row stores it. */
export const IMPORTED_RESULT_COLUMNS = [
  { name: "trainLoss", type: "float8" },
  { name: "testLoss", type: "float8" },
  { name: "testPerplexity", type: "float8" },
] as const satisfies readonly TrialColumn[];

/**
 * What recording a result sets, by the names of TrialResultRecord (each value as the result
 * statements send it: see results.ts). `checkpointPath` is not here: a result keeps the trial's
 * path when it reports none.
 */
export const TRIAL_RESULT_COLUMNS = [
  ...IMPORTED_RESULT_COLUMNS,
  { name: "tokensSeen", type: "float8" },
  { name: "wallSeconds", type: "float8" },
  { name: "tokensPerSecond", type: "float8" },
  { name: "error", type: "text" },
  { name: "errorClass", type: "text" },
] as const satisfies readonly TrialColumn[];

/** `"trainLoss" = v."trainLoss", …`: a result's SET list, from alias `v` or from `$first`, `$first + 1`, …. */
export function resultAssignments(from: { alias: string } | { first: number }): string {
  return TRIAL_RESULT_COLUMNS.map(
    (c, i) => `${ident(c.name)} = ${"alias" in from ? `${from.alias}.${ident(c.name)}` : `$${from.first + i}`}`,
  ).join(", ");
}

/**
 * What a claim returns to its worker: the Trial columns (alias `t`) and its sweep's (alias `s`),
 * each under its own name (ClaimRow below).
 */
export const CLAIM_COLUMNS = [
  { table: "t", name: "id", type: "uuid" },
  { table: "t", name: "sweepId", type: "uuid" },
  { table: "t", name: "attempts", type: "int" },
  { table: "t", name: "config", type: "jsonb" },
  { table: "t", name: "checkpointPath", type: "text" },
  { table: "t", name: "key", type: "text" },
  { table: "t", name: "branchFrom", type: "text" },
  { table: "t", name: "branchStep", type: "int" },
  { table: "t", name: "branchCheckpoint", type: "text" },
  { table: "s", name: "trainer", type: "text" },
  { table: "s", name: "maxAttempts", type: "int" },
] as const satisfies ReadonlyArray<TrialColumn & { table: "t" | "s" }>;

/** A claimed row as the claim statements return it (CLAIM_COLUMNS). */
export interface ClaimRow {
  id: string;
  sweepId: string;
  attempts: number;
  config: unknown;
  checkpointPath: string | null;
  key: string;
  branchFrom: string | null;
  branchStep: number | null;
  branchCheckpoint: string | null;
  trainer: string;
  maxAttempts: number;
}

/** The claim's RETURNING list (uuids as text). */
export const CLAIM_RETURNING = CLAIM_COLUMNS.map(
  (c) => `${c.table}.${ident(c.name)}${c.type === "uuid" ? `::text AS ${ident(c.name)}` : ""}`,
).join(", ");

/** The claim columns of a CTE that returned CLAIM_RETURNING. */
export const CLAIM_SELECT = CLAIM_COLUMNS.map((c) => ident(c.name)).join(", ");

/** The fields of a listed trial (and of one trial's details, with its config). */
export const TRIAL_LIST_FIELDS = {
  id: true,
  sweepId: true,
  key: true,
  ...fields(TRIAL_EXPANSION_COLUMNS),
  status: true,
  attempts: true,
  workerId: true,
  startedAt: true,
  finishedAt: true,
  ...fields(TRIAL_RESULT_COLUMNS),
  createdAt: true,
  updatedAt: true,
} as const;

/** A Prisma `select` of these columns. */
function fields<const C extends readonly TrialColumn[]>(columns: C): { [K in C[number]["name"]]: true } {
  return Object.fromEntries(columns.map((c) => [c.name, true])) as { [K in C[number]["name"]]: true };
}
