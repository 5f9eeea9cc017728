// Fits a GPU study's results (studies/gpu_study.py writes them as an `import` sweep document)
// without the stack: η_opt per (model, T, β), γ = η_opt/β, and γ = a·T^b (eq. 4) with its 95%
// intervals, beside the paper's a = 4.6, b = −0.51 (arXiv 2408.13359).
//   npx tsx studies/fit-gpu-study.ts <results.json> [--json]
// Through the API instead: `powersweep submit <results.json>` then `powersweep fit <id>`.
import { readFileSync } from "node:fs";
import { type FitRow, fitSweep, type SweepFit } from "@powersweep/fit";
import { parseSweepDocument } from "@powersweep/spec";

export const PAPER_LAW = { a: 4.6, b: -0.51 };

export interface StudyFit {
  rows: number;
  fit: SweepFit;
  law: { a: number; b: number; n: number; ci95: { a: [number, number]; b: [number, number] } | null } | null;
}

/** Fits the rows of an import document (the text of results.json); throws naming the bad field. */
export function fitStudy(text: string): StudyFit {
  const parsed = parseSweepDocument(text, "application/json");
  if (!parsed.ok)
    throw new Error(`not an import document: ${parsed.errors.map((e) => `${e.path || "/"}: ${e.message}`).join("; ")}`);
  const doc = parsed.value;
  if (doc.kind !== "import") throw new Error(`kind is "${doc.kind}", expected "import"`);
  const rows: FitRow[] = doc.rows.map((r) => ({
    model: r.model,
    tokens: r.tokens,
    batchSize: r.batchSize,
    lr: r.lr ?? null,
    seed: r.seed ?? 0,
    testLoss: r.testLoss ?? null,
    status: "succeeded",
  }));
  const fit = fitSweep(rows);
  const pooled = fit.law.pooled;
  return {
    rows: rows.length,
    fit,
    law: pooled ? { a: pooled.a, b: pooled.b, n: pooled.n, ci95: pooled.ci95 } : null,
  };
}

const interval = (x: [number, number] | undefined, digits: number) =>
  x ? `[${x[0].toPrecision(digits)}, ${x[1].toPrecision(digits)}]` : "–";

export function formatStudyFit(s: StudyFit): string {
  const lines = [`${s.rows} results; γ = η_opt/β per (model, T):`];
  for (const g of s.fit.gamma)
    lines.push(
      `  ${g.model.padEnd(10)} T ${g.tokens.toExponential(2).padStart(9)}  γ ${g.gamma.toExponential(3)}  (β ${g.batchSizesUsed.join(",")})`,
    );
  if (s.law)
    lines.push(
      `γ = a·T^b: a = ${s.law.a.toPrecision(3)} ${interval(s.law.ci95?.a, 3)}, b = ${s.law.b.toFixed(3)} ${interval(s.law.ci95?.b, 3)} (95%, ${s.law.n} points)`,
    );
  else lines.push("γ = a·T^b: not enough interior optima to fit (see warnings)");
  lines.push(`paper (arXiv 2408.13359): a = ${PAPER_LAW.a}, b = ${PAPER_LAW.b}`);
  for (const w of s.fit.warnings) lines.push(`warning: ${w}`);
  return lines.join("\n");
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: npx tsx studies/fit-gpu-study.ts <results.json> [--json]");
    process.exit(1);
  }
  const s = fitStudy(readFileSync(file, "utf8"));
  console.log(
    process.argv.includes("--json")
      ? JSON.stringify({ rows: s.rows, law: s.law, gamma: s.fit.gamma })
      : formatStudyFit(s),
  );
}
