// CSV export: a cell a spreadsheet would run as a formula comes out as text.
import { describe, expect, it } from "vitest";
import { fitSweep, fitTablesCsv } from "../src/index.ts";
import { synthSweep } from "./synthetic.ts";

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
