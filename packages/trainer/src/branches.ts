// Decay branches from a shared trunk (docs/branches.md): the checks both trainers make before a
// run that writes branch checkpoints or starts from one. The step arithmetic (trunkKey,
// sharedSteps) is packages/sweep's, so the planner and the trainers cannot disagree.

import type { TrialConfig } from "@powersweep/spec";
import { canonicalJson, sharedSteps, trunkKey } from "@powersweep/sweep";
import { type BranchCheckpoint, InvalidConfigError } from "./types.ts";

/** Two configs are the same trial when their canonical JSON (the one trial keys hash) is equal. */
export function sameConfig(a: TrialConfig, b: TrialConfig): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/**
 * The branch checkpoints a run of `config` may write, in ascending step order; throws
 * InvalidConfigError when a branch does not share the run's trunk up to its step: a different
 * trunkKey, or a step beyond the shared steps of either trial. Two branches may not share a dir.
 */
export function checkBranchCheckpoints(config: TrialConfig, branches: BranchCheckpoint[]): BranchCheckpoint[] {
  if (branches.length === 0) return [];
  const hostKey = trunkKey(config);
  const hostShared = sharedSteps(config);
  const dirs = new Set<string>();
  for (const b of branches) {
    const where = `branch checkpoint at step ${b.step} (${b.dir})`;
    if (!(Number.isInteger(b.step) && b.step >= 1))
      throw new InvalidConfigError(`${where}: step must be an integer ≥ 1`);
    if (hostKey === null) throw new InvalidConfigError(`${where}: a ${config.schedule.type} schedule shares no trunk`);
    if (trunkKey(b.config) !== hostKey)
      throw new InvalidConfigError(`${where}: the branch config does not share this trial's trunk (trunkKey differs)`);
    const branchShared = sharedSteps(b.config);
    if (b.step > branchShared)
      throw new InvalidConfigError(`${where}: the branch shares only its first ${branchShared} steps`);
    if (b.step > hostShared)
      throw new InvalidConfigError(`${where}: this trial shares only its first ${hostShared} steps`);
    if (dirs.has(b.dir)) throw new InvalidConfigError(`${where}: two branch checkpoints in one directory`);
    dirs.add(b.dir);
  }
  return [...branches].sort((a, b) => a.step - b.step);
}

/** A trunk checkpoint must be of this exact trial after exactly `step` steps. */
export function checkStartFrom(
  config: TrialConfig,
  startFrom: { dir: string; step: number },
  found: { config: TrialConfig; step: number },
): void {
  if (!sameConfig(found.config, config))
    throw new InvalidConfigError(
      `${startFrom.dir} holds a checkpoint of a different trial config; refusing to start from it`,
    );
  if (found.step !== startFrom.step)
    throw new InvalidConfigError(
      `${startFrom.dir} holds a checkpoint after ${found.step} steps, not after ${startFrom.step}; refusing to start from it`,
    );
}
