// The worker's side of shared trunks (docs/branches.md): a host trial saves a checkpoint for each
// of its waiting branches as its trunk passes their branch steps, and names it in Postgres (which
// makes the branch claimable and gives it a job); a branch trial starts from its checkpoint; the
// checkpoints go once nothing needs them.
//
// Store layout, under the deployment's checkpoint directory (CHECKPOINT_DIR; shared by a fleet
// whose branches may run on another machine than their host):
//   branches/<sweepId>/<hostTrialId>/step-<K>-<branchTrialId>/   one checkpoint (trainer format)
// A branch's directory is removed once the branch has its final result; the sweep's directory
// once the sweep completes.
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import {
  type ClaimedTrial,
  markBranchReady,
  pendingBranches,
  releaseOrphanBranches,
  type SqlClient,
} from "@powersweep/orchestrator";
import { enqueueTrials, type TrialQueue } from "@powersweep/queue";
import type { TrialConfig } from "@powersweep/spec";
import type { RunTrialOptions } from "@powersweep/trainer";
import { errorText, type Log } from "./persist.ts";

export const branchesRoot = (store: string, sweepId: string) => join(store, "branches", sweepId);

export interface BranchContext {
  sql: SqlClient;
  trialQueue: TrialQueue;
  /** The deployment's checkpoint store (CHECKPOINT_DIR). */
  store: string;
  log: Log;
}

/** The trainer options that make a claimed trial a trunk host, a branch, or neither. */
export async function branchTrainOptions(
  ctx: BranchContext,
  claimed: ClaimedTrial,
): Promise<Pick<RunTrialOptions, "startFrom" | "branchCheckpoints" | "onBranchCheckpoint">> {
  if (claimed.branchFrom !== null) {
    // A branch: its checkpoint is named (the claim requires it); a missing file means from scratch.
    return claimed.branchCheckpoint !== null && claimed.branchStep !== null
      ? { startFrom: { dir: claimed.branchCheckpoint, step: claimed.branchStep } }
      : {};
  }
  const dirs = new Map<string, string>();
  const ready = async (branchId: string, dir: string) => {
    try {
      const job = await markBranchReady(ctx.sql, branchId, dir);
      if (job) await enqueueTrials(ctx.trialQueue, [job]);
    } catch (e) {
      // The branch stays waiting; once this host ends, the sweeper releases it to train from scratch.
      ctx.log("branch checkpoint not recorded", { trialId: branchId, dir, error: errorText(e) });
    }
  };
  const branchCheckpoints: NonNullable<RunTrialOptions["branchCheckpoints"]> = [];
  for (const b of await pendingBranches(ctx.sql, claimed.sweepId, claimed.key)) {
    const dir = join(branchesRoot(ctx.store, claimed.sweepId), claimed.id, `step-${b.branchStep}-${b.id}`);
    // Written by an earlier attempt that died before recording it (a checkpoint is renamed into
    // place whole, so the directory is complete): record it now; a resumed host would not write it again.
    if (existsSync(dir)) await ready(b.id, dir);
    else {
      dirs.set(dir, b.id);
      branchCheckpoints.push({ step: b.branchStep, dir, config: b.config as TrialConfig });
    }
  }
  if (!branchCheckpoints.length) return {};
  return {
    branchCheckpoints,
    onBranchCheckpoint: async (_step, dir) => {
      const branchId = dirs.get(dir);
      if (branchId) await ready(branchId, dir);
    },
  };
}

/**
 * After a trial's final result: a host's branches still waiting for a checkpoint it never saved
 * train from scratch; a branch's checkpoint is no longer needed.
 */
export async function afterFinalResult(ctx: BranchContext, claimed: ClaimedTrial): Promise<void> {
  try {
    if (claimed.branchFrom === null) {
      const released = await releaseOrphanBranches(ctx.sql, { sweepId: claimed.sweepId, hostKey: claimed.key });
      await enqueueTrials(ctx.trialQueue, released);
    } else if (claimed.branchCheckpoint) {
      await removeInStore(ctx.store, claimed.branchCheckpoint);
    }
  } catch (e) {
    ctx.log("branch cleanup failed (the sweeper releases waiting branches)", {
      trialId: claimed.id,
      error: errorText(e),
    });
  }
}

/** Removes a path inside the store (never outside it, whatever a row says). */
export async function removeInStore(store: string, path: string): Promise<void> {
  const rel = relative(resolve(store), resolve(path));
  if (!rel || rel.startsWith("..") || isAbsolute(rel)) return;
  await rm(path, { recursive: true, force: true });
}
