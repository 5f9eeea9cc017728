// An lr-grid whose lr axis is an adaptive η search: validation, the coarse grid it expands to
// (the same as nextLrs([], …) proposes), its size, the trials search steps add, and extensions.
import { nextLrs } from "@powersweep/fit";
import { type GridSweep, validateSweepDocument } from "@powersweep/spec";
import { describe, expect, test } from "vitest";
import { ExtendError, expandSweep, extendSweep, lrSearchOf, searchTrials, sweepSize } from "../src/index.ts";

const model = { name: "d32", dModel: 32, nLayers: 2, nHeads: 2, dHead: 16, mlpHidden: 128, baseWidth: 32 };
const raw = (search: Record<string, unknown>) => ({
  kind: "lr-grid",
  name: "search",
  axes: { models: [model], tokens: [1e5, 2e5], batchSize: [4, 8], lr: { search }, seeds: [0, 1] },
});
function grid(doc: unknown): GridSweep {
  const v = validateSweepDocument(doc);
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return v.value as GridSweep;
}

describe("lr search documents", () => {
  test("defaults fill in; from must lie below to; the coarse grid must fit the budget", () => {
    expect(lrSearchOf(grid(raw({ from: 1e-3, to: 1e-1 })))).toEqual({
      from: 1e-3,
      to: 1e-1,
      tolerance: 1.25,
      maxTrials: 8,
      initialPoints: 5,
    });
    const bad = validateSweepDocument(raw({ from: 1e-1, to: 1e-3 }));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors[0]).toMatchObject({ path: "/axes/lr/search/from" });
    const budget = validateSweepDocument(raw({ from: 1e-3, to: 1e-1, initialPoints: 9, maxTrials: 6 }));
    if (!budget.ok) expect(budget.errors[0]).toMatchObject({ path: "/axes/lr/search/maxTrials" });
    expect(budget.ok).toBe(false);
    const unknown = validateSweepDocument(raw({ from: 1e-3, to: 1e-1, steps: 3 }));
    expect(unknown.ok).toBe(false);
    expect(validateSweepDocument(raw({ from: 1e-3, to: 1e-1, tolerance: 1 })).ok).toBe(false);
  });

  test("expands to the coarse grid of every cell, marked search:coarse", () => {
    const doc = grid(raw({ from: 1e-3, to: 1e-1, initialPoints: 5 }));
    const trials = [...expandSweep(doc)];
    expect(trials).toHaveLength(2 * 2 * 5 * 2);
    expect(trials.every((t) => t.placedBy === "search:coarse")).toBe(true);
    const lrs = [...new Set(trials.map((t) => t.lr!))].sort((a, b) => a - b);
    const proposed = nextLrs([], { from: 1e-3, to: 1e-1, tolerance: 1.25, maxTrials: 8 }).next;
    expect(lrs).toHaveLength(proposed.length);
    for (const [i, lr] of lrs.entries()) expect(lr / proposed[i]!).toBeCloseTo(1, 5);
    // grid sweeps carry no mark
    const plain = grid({ ...raw({}), axes: { ...raw({}).axes, lr: [0.01] } });
    expect([...expandSweep(plain)][0]).not.toHaveProperty("placedBy");
  });

  test("its size counts the coarse grid and says how many the search may add", () => {
    const size = sweepSize(grid(raw({ from: 1e-3, to: 1e-1, maxTrials: 12 })));
    expect(size.trials).toBe(2 * 2 * 5 * 2);
    expect(size.searchMaxTrials).toBe(4 * 12);
    expect(size.description).toMatch(/the search adds more, at most 12 per \(model, T, β\): 48 in all/);
  });

  test("search steps add trials configured as grid trials, from scratch, with their mark", () => {
    const doc = grid(raw({ from: 1e-3, to: 1e-1 }));
    const [coarse] = [...expandSweep(doc)];
    const [again] = searchTrials(doc, [
      { model: "d32", tokens: coarse!.tokens, batchSize: coarse!.batchSize, lr: coarse!.lr!, seed: 0, placedBy: "x" },
    ]);
    // the same point is the same trial (same key): a rerun of a step inserts nothing new
    expect(again?.key).toBe(coarse?.key);
    const [t] = searchTrials(doc, [
      { model: "d32", tokens: 2e5, batchSize: 8, lr: 0.012345678, seed: 1, placedBy: "search:refine" },
    ]);
    expect(t).toMatchObject({ lr: 0.0123457, tokens: 2e5, batchSize: 8, seed: 1, placedBy: "search:refine" });
    expect(t?.branchFrom).toBeNull();
    expect(t?.config.schedule).toMatchObject({ type: "wsd", lr: 0.0123457 });
    expect(searchTrials(doc, [{ model: "nope", tokens: 1, batchSize: 1, lr: 1, seed: 0, placedBy: "x" }])).toEqual([]);
  });

  test("an extension keeps the search: new T get its coarse grid; the lr axis cannot be extended", () => {
    const doc = grid(raw({ from: 1e-3, to: 1e-1 }));
    const ext = extendSweep(doc, { tokens: [4e5] });
    expect(lrSearchOf(ext)).not.toBeNull();
    expect([...expandSweep(ext)].filter((t) => t.tokens === 4e5)).toHaveLength(2 * 5 * 2);
    expect(() => extendSweep(doc, { lr: [0.5] })).toThrow(ExtendError);
  });
});
