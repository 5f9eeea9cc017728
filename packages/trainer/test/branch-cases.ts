// The decay-branch acceptance cases (docs/branches.md), shared by the tfjs and torch tests: a trial
// started from a trunk host's branch checkpoint gives exactly (bit for bit) the result of training
// it from scratch, with the same backend and seed.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ScheduleSpec, TrialConfig } from "@powersweep/spec";
import { sharedSteps } from "@powersweep/sweep";
import { afterAll, beforeAll, expect, it } from "vitest";
import { InvalidConfigError, type RunTrialOptions, type Trainer, type TrialResult } from "../src/types.ts";

const SEQ = 32;
const BATCH = 8;
export const TOKENS_PER_STEP = SEQ * BATCH;

/** A tiny μP model on the SOTU corpus; `units` × unit steps of 256 tokens. */
export function branchTrial(units: number, schedule: ScheduleSpec, unitSteps: number): TrialConfig {
  return {
    model: { name: "d32-L1", dModel: 32, nLayers: 1, nHeads: 2, dHead: 16, mlpHidden: 64, baseWidth: 32 },
    mup: { embMultiplier: 1, residualMultiplier: 1, initStd: 0.05 },
    schedule,
    tokens: units * unitSteps * TOKENS_PER_STEP,
    batchSize: BATCH,
    seqLen: SEQ,
    corpus: { type: "sotu" },
    tokenizer: { type: "byte" },
    optimizer: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
    evalTokens: 1000,
    seed: 3,
  };
}

/** What a user compares between two runs of one trial: every number but the timings. */
export function outcome(r: TrialResult) {
  return {
    status: r.status,
    trainLoss: r.trainLoss,
    testLoss: r.testLoss,
    testPerplexity: r.testPerplexity,
    tokensSeen: r.tokensSeen,
    steps: r.steps,
    curve: r.curve,
  };
}

export const WSD: ScheduleSpec = {
  type: "wsd",
  lr: 1e-2,
  warmupTokens: 4 * 256,
  decayFraction: 0.2,
  decayShape: "linear",
};
export const POWER: ScheduleSpec = {
  type: "power",
  powerA: 0.02,
  powerB: -0.51,
  etaMax: 0.02,
  warmupTokens: 4 * 256,
  decayFraction: 0.2,
  decayShape: "exponential",
};

export interface BranchCaseOptions {
  trainer: Trainer;
  /** Steps per unit of T: the host trains 4 units, its branches 1 and 2. */
  unitSteps: number;
  /** Run the power-schedule case too. */
  power?: boolean;
}

/** Registers the cases with `it` inside the caller's describe. */
export function branchCases({ trainer, unitSteps, power = false }: BranchCaseOptions): void {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `branches-${trainer.name}-`));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const run = (config: TrialConfig, options: RunTrialOptions = {}) =>
    trainer.runTrial(config, { progressIntervalMs: 60_000, ...options });
  const scratch = new Map<string, Promise<TrialResult>>();
  /** The from-scratch result of a config, trained once per file. */
  const fromScratch = (config: TrialConfig) => {
    const key = JSON.stringify(config);
    if (!scratch.has(key)) scratch.set(key, run(config));
    return scratch.get(key) as Promise<TrialResult>;
  };

  /** Host T = 4 units, branches T = 1 and 2 units; checkpoints under <case>/host/step-K. */
  const group = (name: string, schedule: ScheduleSpec) => {
    const host = branchTrial(4, schedule, unitSteps);
    const short = [branchTrial(1, schedule, unitSteps), branchTrial(2, schedule, unitSteps)];
    const branches = short.map((config) => {
      const step = sharedSteps(config);
      return { step, dir: join(dir, name, "host", `step-${step}`), config };
    });
    return { host, branches };
  };

  const expectBranchesMatchScratch = async (branches: { step: number; dir: string; config: TrialConfig }[]) => {
    for (const b of branches) {
      const branch = await run(b.config, {
        checkpointDir: join(dir, "own", `${b.dir.replaceAll("/", "_")}`),
        startFrom: { dir: b.dir, step: b.step },
      });
      expect(branch.startStep).toBe(b.step);
      expect(outcome(branch)).toStrictEqual(outcome(await fromScratch(b.config)));
    }
  };

  it("host T=4 writes checkpoints for T=1 and T=2; each branch equals its trial trained from scratch", async () => {
    const { host, branches } = group("wsd", WSD);
    expect(branches.map((b) => b.step)).toEqual([Math.floor(0.8 * unitSteps) + 1, Math.floor(1.6 * unitSteps) + 1]);
    const announced: [number, string][] = [];
    const hosted = await run(host, {
      branchCheckpoints: branches,
      onBranchCheckpoint: (step, d) => {
        announced.push([step, d]);
      },
    });
    expect(hosted.status).toBe("succeeded");
    expect(hosted.startStep).toBe(0);
    expect(announced).toEqual(branches.map((b) => [b.step, b.dir]));
    // the host's own result is unchanged by the branches' extra evaluations
    expect(outcome(hosted)).toStrictEqual(outcome(await fromScratch(host)));
    await expectBranchesMatchScratch(branches);
  });

  it("a host aborted after its first branch checkpoint resumes and still writes the second", async () => {
    const { host, branches } = group("resume", WSD);
    const controller = new AbortController();
    const checkpointDir = join(dir, "resume", "host-own");
    const first = await run(host, {
      checkpointDir,
      branchCheckpoints: branches,
      signal: controller.signal,
      onBranchCheckpoint: () => controller.abort(),
    });
    expect(first.status).toBe("aborted");
    expect(first.checkpointSaved).toBe(true);
    expect(first.steps).toBeGreaterThanOrEqual(branches[0]!.step);
    expect(first.steps).toBeLessThan(branches[1]!.step);
    expect(existsSync(branches[0]!.dir)).toBe(true);
    expect(existsSync(branches[1]!.dir)).toBe(false);

    const announced: number[] = [];
    const resumed = await run(host, {
      checkpointDir,
      branchCheckpoints: branches,
      onBranchCheckpoint: (step) => {
        announced.push(step);
      },
    });
    expect(resumed.startStep).toBe(first.steps);
    expect(announced).toEqual([branches[1]!.step]); // the passed one is not written again
    expect(outcome(resumed)).toStrictEqual(outcome(await fromScratch(host)));
    await expectBranchesMatchScratch(branches);
  });

  it("a branch whose trunk checkpoint is missing trains from scratch, with the same result", async () => {
    const config = branchTrial(1, WSD, unitSteps);
    const result = await run(config, { startFrom: { dir: join(dir, "lost", "step-1"), step: sharedSteps(config) } });
    expect(result.startStep).toBe(0);
    expect(outcome(result)).toStrictEqual(outcome(await fromScratch(config)));
  });

  it("refuses a trunk checkpoint of another trial or step, and branches off another trunk", async () => {
    const { host, branches } = group("refuse", WSD);
    const [a, b] = branches as [(typeof branches)[0], (typeof branches)[0]];
    await run(b.config, { branchCheckpoints: [a] }); // the T=2 trial hosts the T=1 branch
    await expect(run(b.config, { startFrom: { dir: a.dir, step: a.step } })).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(run(a.config, { startFrom: { dir: a.dir, step: a.step + 1 } })).rejects.toBeInstanceOf(
      InvalidConfigError,
    );
    const otherLr = { ...a, config: { ...a.config, schedule: { ...WSD, lr: 2e-2 } } };
    await expect(run(host, { branchCheckpoints: [otherLr] })).rejects.toThrow(/trunk/);
    const tooLate = { ...a, step: a.step + 1 };
    await expect(run(host, { branchCheckpoints: [tooLate] })).rejects.toBeInstanceOf(InvalidConfigError);
  });

  it.runIf(power)("power schedule: the branches equal their trials trained from scratch", async () => {
    const { host, branches } = group("power", POWER);
    const hosted = await run(host, { branchCheckpoints: branches });
    expect(hosted.status).toBe("succeeded");
    await expectBranchesMatchScratch(branches);
  });
}
