export * from "./accept.ts";
export * from "./branches.ts";
export {
  type ClaimedTrial,
  type ClaimRequest,
  claimBlocker,
  DEFAULT_LEASE_SECONDS,
  markRunning,
  markRunningMany,
  releaseTrial,
  renewLeases,
} from "./claims.ts";
export * from "./curves.ts";
export * from "./fits.ts";
export * from "./jobs.ts";
export * from "./lifecycle.ts";
export * from "./limits.ts";
export * from "./offline.ts";
export * from "./reads.ts";
export * from "./reconcile.ts";
export {
  BUSY_SWEEP,
  completeSweepIfDone,
  type MetricPoint,
  type RecordOutcome,
  type ResultWrite,
  recordMetrics,
  recordResult,
  recordResultDetailed,
  recordResults,
  type SqlClient,
  type SqlPool,
  type TrialOutcome,
  type TrialResultRecord,
} from "./results.ts";
export * from "./retry.ts";
export * from "./search.ts";
export * from "./sweeps.ts";
export * from "./tokens.ts";
export { compactGridChunk, gridCopyRows } from "./trialInsert.ts";
export * from "./trialWriter.ts";
export * from "./workers.ts";
