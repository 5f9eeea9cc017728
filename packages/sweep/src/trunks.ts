// Shared trunks and decay branches (issue: study engine). Under WSD and the Power scheduler the lr
// before the decay depends only on the tokens seen, never on the token budget T (eq. 2, eq. 7–8),
// and the trainers draw batch k from the seed and k alone. So trials that differ only in T (and in
// the shape or length of their decay) run the same steps until the earliest decay starts: one trunk
// trains to the largest decay start, a checkpoint is kept at each trial's decay start, and each
// trial's own work is its decay branch from there (Hägele et al. 2405.18392: cooldowns from one run).
//
// Step arithmetic, as both trainers do it: a step sees tokensPerStep = batchSize·seqLen tokens,
// a trial runs ceil(T / tokensPerStep) steps, and step k uses lr(k·tokensPerStep). Step k is in the
// stable phase of trial i when k·tokensPerStep ≤ D_i = T_i·(1 − decayFraction), so the branch of
// trial i starts after K_i = floor(D_i / tokensPerStep) + 1 shared steps.
import type { TrialConfig } from "@powersweep/spec";
import type { TokenPlan } from "@powersweep/spec/api";
import { canonicalJson } from "./keys.ts";

export interface TrunkCheckpoint {
  /** Index of the trial (in the planned list) whose branch starts here. */
  trial: number;
  /** Shared steps done when the checkpoint is taken (the branch's first step is this one). */
  step: number;
  tokens: number;
}

export interface Trunk {
  /** Trials sharing this trunk, by index into the planned list. */
  trials: number[];
  /** Steps the trunk trains: the largest of its trials' shared steps. */
  steps: number;
  tokens: number;
  /** One per trial, in ascending step order. */
  checkpoints: TrunkCheckpoint[];
}

export interface Branch {
  trial: number;
  /** Index into `trunks`. */
  trunk: number;
  fromStep: number;
  toStep: number;
  tokens: number;
}

export interface TrunkPlan {
  trunks: Trunk[];
  branches: Branch[];
  /** Trials that share with no other trial (cosine schedules, or alone in their group): from scratch. */
  standalone: number[];
  /** Tokens the same trials cost trained each from scratch. */
  fullTokens: number;
  /** Tokens of this plan: trunks + branches + standalone trials. */
  planTokens: number;
  /** planTokens / fullTokens. */
  ratio: number;
}

const tokensPerStep = (c: TrialConfig) => c.batchSize * c.seqLen;
const totalSteps = (c: TrialConfig) => Math.ceil(c.tokens / tokensPerStep(c));

/** Tokens at which the decay starts (T for schedules without a decay); null when nothing is shared (cosine). */
export function decayStartTokens(c: TrialConfig): number | null {
  const s = c.schedule;
  if (s.type === "cosine") return null;
  if (s.type === "constant") return c.tokens;
  return c.tokens * (1 - s.decayFraction);
}

/** Steps a trial has in common with any trial of its trunk group: those run at the stable-phase lr. */
export function sharedSteps(c: TrialConfig): number {
  const start = decayStartTokens(c);
  if (start === null) return 0;
  return Math.min(totalSteps(c), Math.floor(start / tokensPerStep(c)) + 1);
}

/**
 * The identity of the run before the decay: the whole config except T and the decay's own
 * parameters. Trials with the same key run identical steps up to their decay starts. null for
 * schedules whose every step depends on T (cosine).
 */
export function trunkKey(c: TrialConfig): string | null {
  const s = c.schedule;
  if (s.type === "cosine") return null;
  const stable =
    s.type === "power"
      ? { type: s.type, powerA: s.powerA, powerB: s.powerB, etaMax: s.etaMax, warmupTokens: s.warmupTokens }
      : // A constant schedule is WSD's stable phase without the decay: the two share a trunk.
        { type: "constant-or-wsd", lr: s.lr, warmupTokens: s.warmupTokens };
  const { tokens: _tokens, schedule: _schedule, ...rest } = c;
  return canonicalJson({ ...rest, schedule: stable });
}

/**
 * Where a trial of a grid branches from the longest trial of its trunk group (T = hostTokens, the
 * largest T of the grid): the steps it takes from that trial's checkpoint, or null when it is that
 * trial itself or shares nothing (cosine, or no shared step). Grid trials of one group differ only
 * in T, and the decay start T·(1 − decayFraction) grows with T, so the host's trunk passes every
 * branch point of its group. The same accounting as planTrunks.
 */
export function branchStart(c: TrialConfig, hostTokens: number): number | null {
  if (c.tokens >= hostTokens || decayStartTokens(c) === null) return null;
  const step = sharedSteps(c);
  if (step === 0 || step > sharedSteps({ ...c, tokens: hostTokens })) return null;
  return step;
}

/** Groups trials into trunks and decay branches, and counts the tokens saved. Pure and deterministic. */
export function planTrunks(configs: TrialConfig[]): TrunkPlan {
  const groups = new Map<string, number[]>();
  const standalone: number[] = [];
  configs.forEach((c, i) => {
    const key = trunkKey(c);
    if (key === null || sharedSteps(c) === 0) standalone.push(i);
    else groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  const trunks: Trunk[] = [];
  const branches: Branch[] = [];
  for (const members of groups.values()) {
    if (members.length === 1) {
      standalone.push(members[0]!);
      continue;
    }
    const tps = tokensPerStep(configs[members[0]!]!);
    const checkpoints = members
      .map((trial) => ({ trial, step: sharedSteps(configs[trial]!), tokens: 0 }))
      .map((cp) => ({ ...cp, tokens: cp.step * tps }))
      .sort((a, b) => a.step - b.step || a.trial - b.trial);
    const steps = checkpoints.at(-1)!.step;
    const index = trunks.length;
    trunks.push({ trials: [...members].sort((a, b) => a - b), steps, tokens: steps * tps, checkpoints });
    for (const cp of checkpoints) {
      const toStep = totalSteps(configs[cp.trial]!);
      branches.push({ trial: cp.trial, trunk: index, fromStep: cp.step, toStep, tokens: (toStep - cp.step) * tps });
    }
  }
  standalone.sort((a, b) => a - b);
  const trialTokens = (c: TrialConfig) => totalSteps(c) * tokensPerStep(c);
  const fullTokens = configs.reduce((sum, c) => sum + trialTokens(c), 0);
  const planTokens =
    trunks.reduce((sum, t) => sum + t.tokens, 0) +
    branches.reduce((sum, b) => sum + b.tokens, 0) +
    standalone.reduce((sum, i) => sum + trialTokens(configs[i]!), 0);
  return { trunks, branches, standalone, fullTokens, planTokens, ratio: fullTokens ? planTokens / fullTokens : 1 };
}

/** The tokens a planned trial trains itself: all of T from scratch, only its decay branch when it branches. */
export function trainingTokensOf(t: {
  tokens: number;
  batchSize: number;
  branchStep?: number | null;
  config?: unknown;
}) {
  const seqLen = (t.config as { seqLen?: number } | undefined)?.seqLen;
  return t.branchStep != null && seqLen ? t.tokens - t.branchStep * t.batchSize * seqLen : t.tokens;
}

/** Adds one trial to a running token plan (planned vs from scratch), as the API reports it. */
export function addToTokenPlan(plan: TokenPlan, t: Parameters<typeof trainingTokensOf>[0]): void {
  plan.planned += trainingTokensOf(t);
  plan.fromScratch += t.tokens;
}
