// CSV numbers without float noise: the shortest decimal at 12 significant digits.
import { describe, expect, it } from "vitest";
import { csvNumber, fitSweep, fitTablesCsv } from "../src/index.ts";

describe("CSV number format", () => {
  it("drops float noise and keeps the digits", () => {
    expect(csvNumber(0.07999999999999999)).toBe("0.08");
    expect(csvNumber(0.1 + 0.2)).toBe("0.3");
    expect(csvNumber(2e9)).toBe("2000000000");
    expect(csvNumber(2.5e-3)).toBe("0.0025");
    expect(csvNumber(1 / 3)).toBe("0.333333333333");
    expect(csvNumber(-0.51)).toBe("-0.51");
    expect(csvNumber(Number.NaN)).toBe("");
  });

  it("writes the η_opt table without float noise (lrs from a grid built by multiplication)", () => {
    // 0.005·2^k by repeated ×2 then ×0.8 gives values like 0.07999999999999999
    const lrs: number[] = [];
    for (let k = 0, lr = 0.00625; k < 7; k++, lr *= 2) lrs.push(lr * 0.8);
    expect(lrs.some((lr) => String(lr).length > 12)).toBe(true);
    const rows = lrs.map((lr) => ({
      model: "m",
      tokens: 25e3,
      batchSize: 8,
      lr,
      testLoss: 2.5 + 0.1 * Math.log(lr / 0.7) ** 2, // optimum above the grid: suggested lrs are written
      status: "succeeded",
    }));
    const csv = fitTablesCsv(fitSweep(rows, { lawBootstrap: 0, etaBootstrap: 20 })).etaOpt;
    const numbers = csv.split(/[,;\n]/).filter((c) => /^-?[\d.]+(e[-+]\d+)?$/.test(c));
    expect(numbers.length).toBeGreaterThan(5);
    for (const n of numbers) expect(n.replace(/^-?0\.0*|[-.]|e.*$/g, "").length).toBeLessThanOrEqual(12);
    expect(csv).toMatch(/,"?0\.64;1\.28"?,/); // suggested lrs past the top edge 0.32
  });
});
