// Trunk planning: which trials share their stable phase, where each branch starts, what it saves.

import { createSchedule } from "@powersweep/schedules";
import type { TrialConfig } from "@powersweep/spec";
import { describe, expect, it } from "vitest";
import { expandSweep } from "../src/expand.ts";
import { planTrunks, sharedSteps, trunkKey } from "../src/trunks.ts";

const model = { name: "d32", dModel: 32, nLayers: 2, nHeads: 2, dHead: 16, mlpHidden: 96, baseWidth: 32 };
function grid(schedule: Record<string, unknown>, tokens: number[], lr = [0.01], batchSize = [8]) {
  return [
    ...expandSweep({
      kind: "lr-grid",
      name: "t",
      axes: { models: [model], tokens, batchSize, lr },
      schedule: schedule as never,
      training: { seqLen: 64 },
    } as never),
  ].map((t) => t.config);
}

describe("planTrunks", () => {
  it("T = 1, 2, 4, 8 units with a 10% decay cost 8.7 units instead of 15 (one trunk, four branches)", () => {
    const unit = 8 * 64 * 1000; // 1000 steps of β·seqLen tokens
    const configs = grid(
      { type: "wsd", warmupTokens: 0, decayFraction: 0.1 },
      [1, 2, 4, 8].map((k) => k * unit),
    );
    const plan = planTrunks(configs);
    expect(plan.trunks).toHaveLength(1);
    expect(plan.standalone).toEqual([]);
    expect(plan.fullTokens).toBe(15 * unit);
    // Each branch starts one step after its decay start (that step still runs at the stable lr).
    expect(plan.trunks[0]!.checkpoints.map((c) => c.step)).toEqual([901, 1801, 3601, 7201]);
    expect(plan.planTokens / unit).toBeCloseTo(8.7, 2);
    expect(plan.ratio).toBeCloseTo(8.7 / 15, 3);
  });

  it("shares nothing across lr, batch size or seed, and nothing under cosine", () => {
    const wsd = { type: "wsd", warmupTokens: 0, decayFraction: 0.1 };
    const plan = planTrunks(grid(wsd, [1e5, 2e5], [0.01, 0.02], [8, 16]));
    expect(plan.trunks).toHaveLength(4); // one per (lr, β), each with both T
    for (const t of plan.trunks) expect(t.trials).toHaveLength(2);
    const cosine = planTrunks(grid({ type: "cosine", warmupTokens: 0 }, [1e5, 2e5]));
    expect(cosine.trunks).toEqual([]);
    expect(cosine.standalone).toEqual([0, 1]);
    expect(cosine.ratio).toBe(1);
  });

  it("a branch's lr schedule matches its trunk's on every shared step, and not on the next", () => {
    const configs = grid(
      { type: "wsd", warmupTokens: 5000, decayFraction: 0.2, decayShape: "exponential" },
      [3e5, 1e6],
    );
    const [small, large] = configs as [TrialConfig, TrialConfig];
    const tps = small.batchSize * small.seqLen;
    const lrSmall = createSchedule(small.schedule, { totalTokens: small.tokens, batchSize: small.batchSize });
    const lrLarge = createSchedule(large.schedule, { totalTokens: large.tokens, batchSize: large.batchSize });
    const k = sharedSteps(small);
    for (let step = 0; step < k; step++) expect(lrSmall(step * tps)).toBe(lrLarge(step * tps));
    expect(lrSmall(k * tps)).toBeLessThan(lrLarge(k * tps));
  });

  it("Power-scheduler trials share a trunk per (a, b) whatever their T", () => {
    const configs = [1e5, 2e5, 4e5].map(
      (tokens): TrialConfig => ({
        ...(grid({ type: "wsd", warmupTokens: 0, decayFraction: 0.1 }, [tokens])[0] as TrialConfig),
        schedule: {
          type: "power",
          powerA: 4,
          powerB: -0.51,
          etaMax: 0.02,
          warmupTokens: 0,
          decayFraction: 0.1,
          decayShape: "exponential",
        },
      }),
    );
    expect(new Set(configs.map(trunkKey)).size).toBe(1);
    const other = { ...configs[0]!, schedule: { ...configs[0]!.schedule, powerA: 3 } } as TrialConfig;
    expect(trunkKey(other)).not.toBe(trunkKey(configs[0]!));
    expect(planTrunks([...configs, other]).standalone).toEqual([3]);
  });
});

describe("expansion assigns each trial its branch", () => {
  const unit = 8 * 64 * 1000;
  function expanded(schedule: Record<string, unknown>, share?: "trunks" | "none") {
    return [
      ...expandSweep({
        kind: "lr-grid",
        name: "t",
        ...(share ? { share } : {}),
        axes: { models: [model], tokens: [1, 2, 4].map((k) => k * unit), batchSize: [8], lr: [0.01, 0.02] },
        schedule: schedule as never,
        training: { seqLen: 64 },
      } as never),
    ];
  }

  it("trials branch from the longest trial of their (lr) group at their decay start, as planTrunks counts", () => {
    const trials = expanded({ type: "wsd", warmupTokens: 0, decayFraction: 0.1 });
    const byKey = new Map(trials.map((t) => [t.key, t]));
    for (const t of trials) {
      if (t.tokens === 4 * unit) {
        expect(t.branchFrom).toBeNull();
        continue;
      }
      const host = byKey.get(t.branchFrom ?? "");
      expect(host?.tokens).toBe(4 * unit);
      expect(host?.lr).toBe(t.lr);
      expect(t.branchStep).toBe(sharedSteps(t.config));
    }
    // The tokens the rows say each trial trains add up to the plan's.
    const trained = trials.reduce((sum, t) => sum + t.tokens - (t.branchStep ?? 0) * 8 * 64, 0);
    expect(trained).toBe(planTrunks(trials.map((t) => t.config)).planTokens);
  });

  it("cosine trials and share: none train from scratch", () => {
    for (const t of [
      ...expanded({ type: "cosine", warmupTokens: 0 }),
      ...expanded({ type: "wsd", decayFraction: 0.1 }, "none"),
    ]) {
      expect(t.branchFrom).toBeNull();
      expect(t.branchStep).toBeNull();
    }
  });
});
