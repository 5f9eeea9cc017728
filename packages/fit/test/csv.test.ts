// CSV export: numbers without float noise (the shortest decimal at 12 significant digits), and a
// cell a spreadsheet would run as a formula comes out as text.
import { describe, expect, it } from "vitest";
import { csvNumber, fitSweep, fitTablesCsv } from "../src/index.ts";
import { synthSweep } from "./synthetic.ts";

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

/** The cells of one CSV line (quoted cells unquoted). */
function cells(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/("(?:[^"]|"")*"|[^,]*)(,|$)/g)) {
    if (m.index === line.length && m[0] === "") break;
    const c = m[1] ?? "";
    out.push(c.startsWith('"') ? c.slice(1, -1).replace(/""/g, '"') : c);
  }
  return out;
}

describe("fitTablesCsv", () => {
  it("neutralises formula-leading model names and leaves numeric cells as numbers", () => {
    const names = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "plain"];
    const rows = synthSweep({
      models: names.map((name) => ({ name, a: 4.6, b: -0.51 })),
      tokens: [2e9, 4e9],
      batchSizes: [64],
      seeds: 1,
    });
    const csv = fitTablesCsv(fitSweep(rows, { etaBootstrap: 10, lawBootstrap: 10 }));
    const models = csv.etaOpt
      .split("\n")
      .slice(1)
      .filter(Boolean)
      .map((l) => cells(l)[0]);
    expect(new Set(models)).toEqual(new Set(["'=cmd|' /C calc'!A0", "'+1+1", "'-2+3", "'@SUM(A1)", "'\tx", "plain"]));
    const gammaLines = csv.gamma.split("\n").slice(1).filter(Boolean);
    expect(gammaLines.length).toBeGreaterThan(0);
    for (const l of gammaLines) expect(Number(cells(l)[2])).toBeGreaterThan(0); // γ stays a number
  });
});
