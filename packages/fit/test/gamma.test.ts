import { describe, expect, it } from "vitest";
import { type EtaOptGroup, gammaTable } from "../src/index.ts";

const group = (batchSize: number, etaOpt: number, lossAtOpt: number, onEdge = false): EtaOptGroup => ({
  model: "36M",
  tokens: 8e9,
  batchSize,
  etaOpt,
  lossAtOpt,
  curvature: 0.2,
  ci95: null,
  ciMethod: null,
  fallback: null,
  method: "parabola",
  nPoints: 5,
  nLrs: 12,
  nSeeds: 2,
  onEdge,
  extend: onEdge ? "higher" : null,
  suggestedLrs: [],
  bracketedByDivergence: false,
  nDiverged: 0,
  nFailed: 0,
});

describe("gammaTable (eq. 3, 3 best batch sizes)", () => {
  const groups = [
    group(16, 0.0016, 3.3),
    group(32, 0.0064, 3.1),
    group(64, 0.0064, 3.05),
    group(128, 0.0256, 3.2),
    group(256, 0.01, 2.9, true), // best loss but on the grid edge
  ];
  it("averages γ = η_opt/β arithmetically over the 3 lowest-loss non-edge batch sizes", () => {
    const [row] = gammaTable(groups);
    expect(row?.batchSizesUsed).toEqual([64, 32, 128]);
    expect(row?.gamma).toBeCloseTo((0.0064 / 64 + 0.0064 / 32 + 0.0256 / 128) / 3, 15);
    expect(row?.gammaGeoMean).toBeCloseTo(Math.cbrt((0.0064 / 64) * (0.0064 / 32) * (0.0256 / 128)), 15);
  });
  it("includes edge groups only when asked", () => {
    expect(gammaTable(groups, { includeEdge: true })[0]?.batchSizesUsed).toEqual([256, 64, 32]);
  });
});
