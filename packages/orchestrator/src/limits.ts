// A sweep's own limits, read where they are enforced (the worker, per claimed trial).
import { queryRows, type SqlClient } from "./sql.ts";

/** The sweep's trialMaxSeconds (from its document), or null when it sets none. */
export async function sweepTrialMaxSeconds(c: SqlClient, sweepId: string): Promise<number | null> {
  const rows = await queryRows<{ s: number | null }>(
    c,
    `SELECT (spec->>'trialMaxSeconds')::float8 AS s FROM "Sweep" WHERE id = $1::uuid`,
    [sweepId],
    "ps_sweep_trial_limit",
  );
  const s = rows[0]?.s;
  return typeof s === "number" && Number.isFinite(s) && s > 0 ? s : null;
}
