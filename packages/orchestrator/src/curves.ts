// Dense trial curves (docs/trial-curves.md): one columnar JSON document per trial attempt, written once
// when the attempt ends (TrialCurve). Separate from the result statement so the hot result path
// is unchanged; a curve without a recorded result is harmless (the API serves the recorded attempt's).
import type { TrialCurve } from "@powersweep/spec/api";
import { execute, queryRows, type SqlClient } from "./sql.ts";

/**
 * Stores attempt `attempt`'s curve (idempotent: a second write of the same attempt changes nothing).
 * `curve` is the trainer's TrialCurve (packages/trainer curve.ts), stored as it is.
 */
export async function recordCurve(db: SqlClient, trialId: string, attempt: number, curve: unknown): Promise<boolean> {
  if (curve == null) return false;
  const n = await execute(
    db,
    `INSERT INTO "TrialCurve" ("trialId", attempt, curve) VALUES ($1::uuid, $2, $3::jsonb)
     ON CONFLICT ("trialId", attempt) DO NOTHING`,
    [trialId, attempt, JSON.stringify(curve)],
    "ps_record_curve",
  );
  return n === 1;
}

/** The curve of the recorded attempt (resultAttempt), else of the latest attempt that has one; null if none. */
export async function trialCurve(
  db: SqlClient,
  trialId: string,
  resultAttempt: number | null,
): Promise<{ attempt: number; curve: TrialCurve } | null> {
  const rows = await queryRows<{ attempt: number; curve: TrialCurve | string }>(
    db,
    `SELECT attempt, curve FROM "TrialCurve" WHERE "trialId" = $1::uuid AND ($2::int IS NULL OR attempt = $2::int)
     ORDER BY attempt DESC LIMIT 1`,
    [trialId, resultAttempt],
  );
  const row = rows[0];
  if (!row) return null;
  return { attempt: Number(row.attempt), curve: typeof row.curve === "string" ? JSON.parse(row.curve) : row.curve };
}
