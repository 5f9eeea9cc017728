import { describe, expect, it } from "vitest";
import { powerSurfaceChart } from "../src/index.ts";

const cells = (shift: number) =>
  [0.25, 0.5, 1].flatMap((powerA) =>
    [-0.6, -0.51, -0.4].map((powerB) => ({
      powerA,
      powerB,
      loss: 2.5 + shift + 10 * (powerB + 0.51) ** 2 + 0.01 * powerA,
    })),
  );

describe("powerSurfaceChart", () => {
  it("draws one a × b panel per T with every cell, the loss in its colour and title, and the best cell outlined", () => {
    const svg = powerSurfaceChart([
      { label: "T=40k", cells: cells(0.1) },
      { label: "T=80k", cells: [...cells(0).slice(0, 8), { powerA: 1, powerB: -0.4, loss: null }] },
    ]);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain('data-panels="2"');
    expect(svg.match(/<rect class="cell/g)).toHaveLength(18);
    expect(svg).toContain("T=40k");
    expect(svg).toContain("T=80k");
    // the best cell of each panel: a = 0.25, b = −0.51
    const best = [...svg.matchAll(/<rect class="cell best"[^>]*data-a="([^"]+)" data-b="([^"]+)"/g)].map((m) => [
      m[1],
      m[2],
    ]);
    expect(best).toEqual([
      ["0.25", "-0.51"],
      ["0.25", "-0.51"],
    ]);
    expect(svg).toContain("a=1, b=-0.4: no result");
    // one colour scale over both panels: the lowest loss is the lightest colour, the highest the darkest
    expect(svg).toContain("rgb(255,247,188)");
    expect(svg).toContain("rgb(12,44,132)");
  });

  it("says so when nothing has finished", () => {
    expect(powerSurfaceChart([])).toContain("No finished power-grid trials yet");
    expect(powerSurfaceChart([{ label: "T=1", cells: [{ powerA: 1, powerB: -0.5, loss: null }] }])).toContain(
      "No finished",
    );
  });
});
