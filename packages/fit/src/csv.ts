// CSV export of the η_opt and γ tables (one row per group), for spreadsheets and plots.
import type { SweepFit } from "./fitSweep.ts";

/**
 * A number as the shortest decimal that round-trips at 12 significant digits: float noise such as
 * 0.07999999999999999 (from ln/exp round trips and lr grids built by multiplication) becomes 0.08,
 * while every digit a fit can resolve is kept.
 */
export function csvNumber(v: number): string {
  if (!Number.isFinite(v)) return "";
  return String(Number(v.toPrecision(12)));
}

/**
 * One CSV cell: numbers through csvNumber; text that a spreadsheet would read as a formula (a
 * leading =, +, -, @, tab or CR, e.g. a model named `=cmd|' /C calc'!A0`) gets a leading
 * apostrophe (OWASP's CSV-injection advice), while numbers stay numbers, so a negative b is -0.51.
 */
const cell = (v: unknown): string => {
  if (v === null || v === undefined) return "";
  const text = (x: unknown) => (typeof x === "number" ? csvNumber(x) : String(x));
  let s = Array.isArray(v) ? v.map(text).join(";") : text(v);
  const numeric = typeof v === "number" || (Array.isArray(v) && v.every((x) => typeof x === "number"));
  if (!numeric && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r\t]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
const line = (vs: unknown[]) => vs.map(cell).join(",");

export const ETA_OPT_CSV_HEADER = [
  "model",
  "tokens",
  "batchSize",
  "etaOpt",
  "lossAtOpt",
  "curvature",
  "ciLo",
  "ciHi",
  "method",
  "nPoints",
  "nLrs",
  "nSeeds",
  "onEdge",
  "extend",
  "suggestedLrs",
  "nDiverged",
  "nFailed",
];
export const GAMMA_CSV_HEADER = ["model", "tokens", "gamma", "gammaGeoMean", "batchSizesUsed", "gammas"];

export function fitTablesCsv(fit: SweepFit): { etaOpt: string; gamma: string } {
  const eta = fit.etaOpt.map((g) =>
    line([
      g.model,
      g.tokens,
      g.batchSize,
      g.etaOpt,
      g.lossAtOpt,
      g.curvature,
      g.ci95?.[0],
      g.ci95?.[1],
      g.method,
      g.nPoints,
      g.nLrs,
      g.nSeeds,
      g.onEdge,
      g.extend,
      g.suggestedLrs,
      g.nDiverged,
      g.nFailed,
    ]),
  );
  const gam = fit.gamma.map((r) => line([r.model, r.tokens, r.gamma, r.gammaGeoMean, r.batchSizesUsed, r.gammas]));
  return {
    etaOpt: `${[line(ETA_OPT_CSV_HEADER), ...eta].join("\n")}\n`,
    gamma: `${[line(GAMMA_CSV_HEADER), ...gam].join("\n")}\n`,
  };
}
