// The η_max clamp of the Power scheduler per trial, and the power-grid warnings.
import { readFileSync } from "node:fs";
import { createSchedule } from "@powersweep/schedules";
import { type GridSweep, parseSweepDocument } from "@powersweep/spec";
import { describe, expect, it } from "vitest";
import { checkPowerGrid, expandSweep, powerClampFraction, powerClampTokens } from "../src/index.ts";

const example = (file: string) => {
  const parsed = parseSweepDocument(
    readFileSync(new URL(`../../../examples/${file}`, import.meta.url), "utf8"),
    "application/yaml",
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value as GridSweep;
};

describe("powerClampFraction", () => {
  it("is the fraction of the run where min(η_max, β·a·n^b) is η_max, as the schedule itself says", () => {
    const p = { powerA: 0.5, powerB: -0.51, etaMax: 0.08, batchSize: 8 };
    const nStar = powerClampTokens(p);
    expect(8 * 0.5 * nStar ** -0.51).toBeCloseTo(0.08, 12);
    const tokens = 40_000;
    const f = powerClampFraction(p, tokens);
    expect(f).toBeGreaterThan(0);
    expect(f).toBeLessThan(1);
    const schedule = createSchedule(
      { type: "power", ...p, warmupTokens: 0, decayFraction: 0, decayShape: "exponential" },
      { totalTokens: tokens, batchSize: 8 },
    );
    // sampled: the schedule sits at η_max exactly on the first f of the run
    let clamped = 0;
    for (let i = 0; i < 1000; i++) if (schedule(((i + 0.5) / 1000) * tokens) === 0.08) clamped++;
    expect(clamped / 1000).toBeCloseTo(f, 2);
    expect(powerClampFraction({ ...p, powerA: 4 }, tokens)).toBe(1);
  });
});

describe("checkPowerGrid", () => {
  it("the old example (a ≈ 4 at 40k tokens, η_max 0.02): identical schedules, a warning with what to change", () => {
    const doc: GridSweep = {
      ...example("power-grid.yaml"),
      axes: { ...example("power-grid.yaml").axes, powerA: [3, 4, 5], batchSize: [4, 8] },
      schedule: { ...(example("power-grid.yaml") as { schedule: object }).schedule, etaMax: 0.02 },
    } as GridSweep;
    const check = checkPowerGrid(doc);
    expect(check.cells).toHaveLength(36);
    expect(check.cells.filter((c) => c.tokens === 40_000).every((c) => c.identical && c.clampFraction === 1)).toBe(
      true,
    );
    expect(check.warnings.join("\n")).toMatch(/identical \(WSD at η_max\)/);
    expect(check.warnings.join("\n")).toMatch(/clamped at η_max for more than half of the run/);
    const suggestion = check.warnings.join("\n").match(/powerA ≤ ([\d.e-]+)/);
    // the suggested a does leave every run's clamp early
    const a = Number(suggestion?.[1]);
    const fixed = checkPowerGrid({ ...doc, axes: { ...doc.axes, powerA: [a] } } as GridSweep);
    expect(fixed.warnings).toEqual([]);
    expect(Math.max(...fixed.cells.map((c) => c.clampFraction))).toBeLessThanOrEqual(0.11);
  });

  it("examples/power-grid.yaml is a grid where a and b matter: most runs leave the clamp early, no warning", () => {
    const doc = example("power-grid.yaml");
    const check = checkPowerGrid(doc);
    expect(check.warnings).toEqual([]);
    const free = check.cells.filter((c) => c.clampFraction < 0.25);
    expect(free.length).toBeGreaterThanOrEqual(check.cells.length * 0.75);
    // and the schedules differ: lr half-way through the run spans more than a factor of 8
    const mid = [...expandSweep(doc)]
      .filter((t) => t.tokens === 40_000 && t.batchSize === 8)
      .map((t) => createSchedule(t.config.schedule, { totalTokens: t.tokens, batchSize: t.batchSize })(20_000));
    expect(Math.max(...mid) / Math.min(...mid)).toBeGreaterThan(8);
  });

  it("says nothing about lr-grids", () => {
    expect(checkPowerGrid(example("demo.yaml"))).toEqual({ cells: [], warnings: [] });
  });
});
