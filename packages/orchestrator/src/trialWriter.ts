// The worker's Postgres writer: claims and results that arrive while a write is in flight are
// grouped (group commit) into one statement (markRunningMany, recordResults, or claimAndRecord for
// both), so one trial's result travels with the next trial's claim; a repeated claim of a trial
// goes in a later statement and takes the next attempt.
import {
  type ClaimedTrial,
  type ClaimRequest,
  claimCtes,
  claimed,
  DEFAULT_LEASE_SECONDS,
  markRunningMany,
} from "./claims.ts";
import {
  metricRows,
  RESULT_COLUMNS,
  RESULT_FROM,
  type RecordOutcome,
  type ResultRow,
  type ResultWrite,
  recordResults,
  resultCtes,
  resultOutcomes,
  resultPayload,
  type TrialResultRecord,
} from "./results.ts";
import { queryRows, type SqlClient } from "./sql.ts";
import { CLAIM_COLUMNS, CLAIM_SELECT, type ClaimRow } from "./trialRow.ts";

/** Errors that belong to one row's data, not to the connection: a batch failing with one is retried row by row. */
const isDataError = (e: unknown) => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code.startsWith("22") || code.startsWith("23"));
};

/**
 * Group commit: `submit(item)` sends the item at once when nothing is in flight; items that arrive
 * meanwhile wait for that write and then go together in one `many` call (at most `maxBatch`, and
 * never two items with the same key in one call: a repeat waits for the next call, so it is applied
 * after the first, as separate calls would). A lone item therefore costs no added latency, and
 * concurrent callers share one round trip and one commit. A promise settles only after its item's
 * statement finished; a failed call rejects every item in it (each caller retries), except a data
 * error, which is retried item by item so one bad item cannot block the others.
 * With `gather`, an idle writer waits for the rest of the current turn of the event loop
 * (setImmediate) before it sends, so items submitted together (one job's result and the next job's
 * claim) share a statement.
 */
export function createGroupCommit<I, O>(
  many: (items: I[]) => Promise<O[]>,
  { maxBatch = 64, key, gather = false }: { maxBatch?: number; key: (item: I) => string; gather?: boolean },
): (item: I) => Promise<O> {
  type Pending = { item: I; resolve: (o: O) => void; reject: (e: unknown) => void };
  let pending: Pending[] = [];
  let writing = false;
  const take = (): Pending[] => {
    const batch: Pending[] = [];
    const keys = new Set<string>();
    const rest: Pending[] = [];
    for (const p of pending) {
      const k = key(p.item);
      if (batch.length < maxBatch && !keys.has(k)) {
        keys.add(k);
        batch.push(p);
      } else rest.push(p);
    }
    pending = rest;
    return batch;
  };
  async function drain() {
    writing = true;
    try {
      while (pending.length) {
        const batch = take();
        try {
          const out = await many(batch.map((b) => b.item));
          for (const [i, b] of batch.entries()) b.resolve(out[i] as O);
        } catch (e) {
          if (batch.length > 1 && isDataError(e)) {
            for (const b of batch) await many([b.item]).then((o) => b.resolve(o[0] as O), b.reject);
          } else {
            for (const b of batch) b.reject(e);
          }
        }
      }
    } finally {
      writing = false;
    }
  }
  return (item) =>
    new Promise<O>((resolve, reject) => {
      pending.push({ item, resolve, reject });
      if (writing) return;
      writing = true;
      if (gather) setImmediate(() => void drain());
      else void drain();
    });
}

export interface ResultWriter {
  /** Records one result, grouped with the others that arrive while a write is in flight. */
  record(trialId: string, attempt: number, r: TrialResultRecord): Promise<RecordOutcome>;
}

export interface Claimer {
  /** Claims one trial (as markRunning does), grouped with the claims that arrive while one is in flight. */
  claim(trialId: string, opts?: { checkpointPath?: string | null }): Promise<ClaimedTrial | null>;
}

const claimAndRecordSql = (withMetrics: boolean) => `
WITH ${claimCtes({ ids: "$1", workerId: "$2", paths: "$3", lease: "$6" })}, ${resultCtes({ payload: "$4", ids: "$5" }, withMetrics)}
SELECT NULL::int AS i, ${CLAIM_SELECT}, NULL::boolean AS recorded, NULL::int AS "othersActive" FROM ct
UNION ALL
SELECT v.i, ${CLAIM_COLUMNS.map(() => "NULL").join(", ")}, ${RESULT_COLUMNS.replace("v.i, ", "")} FROM ${RESULT_FROM}`;

const CLAIM_AND_RECORD_SQL = claimAndRecordSql(true);
const CLAIM_AND_RECORD_NO_METRICS_SQL = claimAndRecordSql(false);

/**
 * markRunningMany and recordResults in ONE statement (one transaction, committed synchronously):
 * each claim is made exactly as markRunning makes it and each result recorded exactly as
 * recordResults records it (the claims and the results touch different trials: a trial may appear
 * only once per call). This saves a round trip and a transaction when one job's result and the next
 * job's claim are ready together. Outcomes are in the order of `claims` and of `writes`.
 */
export async function claimAndRecord(
  db: SqlClient,
  workerId: string,
  claims: ClaimRequest[],
  writes: ResultWrite[],
  leaseSeconds = DEFAULT_LEASE_SECONDS,
): Promise<{ claimed: Array<ClaimedTrial | null>; recorded: RecordOutcome[] }> {
  if (!claims.length || !writes.length)
    return {
      claimed: await markRunningMany(db, claims, workerId, leaseSeconds),
      recorded: await recordResults(db, writes),
    };
  const ids = [...claims.map((c) => c.trialId), ...writes.map((w) => w.trialId)].map((id) => id.toLowerCase());
  if (new Set(ids).size !== ids.length) throw new Error("claimAndRecord: a trial may appear only once per statement");
  const metrics = writes.map((w) => metricRows(w.record.metrics ?? []));
  const withMetrics = metrics.some((m) => m !== "[]");
  const rows = await queryRows<ClaimRow & ResultRow>(
    db,
    withMetrics ? CLAIM_AND_RECORD_SQL : CLAIM_AND_RECORD_NO_METRICS_SQL,
    [
      claims.map((c) => c.trialId),
      workerId,
      claims.map((c) => c.checkpointPath ?? null),
      resultPayload(writes, withMetrics ? metrics : null),
      writes.map((w) => w.trialId),
      leaseSeconds,
    ],
    withMetrics ? "ps_claim_and_record_m" : "ps_claim_and_record",
  );
  const byId = new Map<string, ClaimedTrial>();
  for (const r of rows) if (r.i == null) byId.set(r.id, claimed(r));
  return {
    claimed: claims.map((c) => byId.get(c.trialId.toLowerCase()) ?? null),
    recorded: resultOutcomes(
      writes,
      rows.filter((r) => r.i != null),
    ),
  };
}

export interface TrialWriter extends Claimer, ResultWriter {}

type TrialWrite = { claim: ClaimRequest; result?: never } | { result: ResultWrite; claim?: never };

/**
 * The worker's Postgres writer: claims and results through one group commit. Claims alone go to
 * `claimDb` (markRunningMany: a claim can be redone, so that pool may commit without waiting for
 * the WAL flush), results alone to `resultDb` (recordResults, durable), and claims and results
 * that are ready together to `resultDb` in one statement (claimAndRecord): with one slot, each
 * trial's result then travels with the next trial's claim, one round trip and one commit for both.
 * Every promise resolves only after its own row's transaction committed.
 */
export function createTrialWriter(
  {
    claimDb,
    resultDb,
    workerId,
    leaseSeconds = DEFAULT_LEASE_SECONDS,
  }: { claimDb: SqlClient; resultDb: SqlClient; workerId: string; leaseSeconds?: number },
  { maxBatch = 64 }: { maxBatch?: number } = {},
): TrialWriter {
  const submit = createGroupCommit(
    async (items: TrialWrite[]): Promise<Array<ClaimedTrial | null | RecordOutcome>> => {
      const claims = items.flatMap((x) => (x.claim ? [x.claim] : []));
      const writes = items.flatMap((x) => (x.result ? [x.result] : []));
      let claimed: Array<ClaimedTrial | null> = [];
      let recorded: RecordOutcome[] = [];
      if (!writes.length) claimed = await markRunningMany(claimDb, claims, workerId, leaseSeconds);
      else if (!claims.length) recorded = await recordResults(resultDb, writes);
      else ({ claimed, recorded } = await claimAndRecord(resultDb, workerId, claims, writes, leaseSeconds));
      let c = 0;
      let r = 0;
      return items.map((x) => (x.claim ? (claimed[c++] ?? null) : (recorded[r++] as RecordOutcome)));
    },
    { maxBatch, key: (x) => (x.claim ? x.claim.trialId : x.result.trialId).toLowerCase(), gather: true },
  );
  return {
    claim: (trialId, opts = {}) =>
      submit({ claim: { trialId, checkpointPath: opts.checkpointPath ?? null } }) as Promise<ClaimedTrial | null>,
    record: (trialId, attempt, record) => submit({ result: { trialId, attempt, record } }) as Promise<RecordOutcome>,
  };
}
