// The lifecycle vocabulary of sweeps, trials and workers, defined once. prisma/schema.prisma's
// enums hold the same values (a test in packages/db compares them); the API's schemas, the
// orchestrator's SQL, the CLI and the dashboard import these lists instead of spelling them out.
import { type Static, type TLiteral, type TUnion, Type } from "@sinclair/typebox";

export const TRIAL_STATUSES = ["queued", "running", "succeeded", "failed", "diverged", "cancelled"] as const;
export type TrialStatus = (typeof TRIAL_STATUSES)[number];
/** A trial in one of these states has its final outcome recorded. */
export const TERMINAL_TRIAL_STATUSES = [
  "succeeded",
  "failed",
  "diverged",
  "cancelled",
] as const satisfies readonly TrialStatus[];
/** Outcomes the fitter reads: a diverged run is evidence of where η is too large. */
export const FITTED_TRIAL_STATUSES = ["succeeded", "diverged"] as const satisfies readonly TrialStatus[];

/** Outcomes an imported result row may record (a run elsewhere that diverged is divergence evidence). */
export const IMPORT_ROW_STATUSES = ["succeeded", "diverged", "failed"] as const satisfies readonly TrialStatus[];
export type ImportRowStatus = (typeof IMPORT_ROW_STATUSES)[number];

export const SWEEP_STATUSES = ["creating", "queued", "running", "completed", "cancelled"] as const;
export type SweepStatus = (typeof SWEEP_STATUSES)[number];
export const TERMINAL_SWEEP_STATUSES = ["completed", "cancelled"] as const satisfies readonly SweepStatus[];

/** Sweep kinds as documents spell them (`kind:`); the database stores the same names with `_`. */
export const SWEEP_KINDS = ["lr-grid", "power-grid", "import"] as const;
export type SweepKind = (typeof SWEEP_KINDS)[number];
export type SweepKindColumn = "lr_grid" | "power_grid" | "import";
export const sweepKindColumn = (kind: SweepKind): SweepKindColumn => kind.replace("-", "_") as SweepKindColumn;
export const sweepKindOfColumn = (column: SweepKindColumn): SweepKind => column.replace("_", "-") as SweepKind;

export const WORKER_STATES = ["idle", "busy", "stopping", "stopped"] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

/** A union of string literals whose static type is the union of the values (not `string`). */
const literals = <T extends readonly string[]>(values: T) =>
  Type.Union(values.map((v) => Type.Literal(v))) as unknown as TUnion<{ -readonly [K in keyof T]: TLiteral<T[K]> }>;
export const TrialStatusSchema = literals(TRIAL_STATUSES);
export const SweepStatusSchema = literals(SWEEP_STATUSES);
export const SweepKindSchema = literals(SWEEP_KINDS);
export const WorkerStateSchema = literals(WORKER_STATES);
export const ImportRowStatusSchema = literals(IMPORT_ROW_STATUSES);
export type TrialStatusValue = Static<typeof TrialStatusSchema>;
