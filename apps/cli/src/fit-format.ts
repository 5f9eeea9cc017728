// Text rendering of a SweepFit: the η_opt table, the γ table, the law with its CI, and warnings.
// Shared by `powersweep fit` and the demo.
import type { PowerLaw, SweepFit } from "@powersweep/fit";
import { renderTable } from "./format.ts";

const sci = (v: number | null | undefined, digits = 3) =>
  typeof v === "number" && Number.isFinite(v) ? v.toExponential(digits) : "–";
const fixed = (v: number | null | undefined, digits = 4) =>
  typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "–";

/** Learning rates everywhere in the CLI's tables: three significant digits in exponent form (2.50e-3, 1.00e-2). */
export const lrText = (v: number | null | undefined) => sci(v, 2);

export function formatLaw(law: PowerLaw | null, label = "γ = a·T^b"): string {
  if (!law) return `${label}: not fitted (needs γ at 2 or more token budgets away from the grid edges)`;
  const ci = law.ci95 ?? law.ci95Analytic;
  const ciText = ci
    ? `  95% CI: a ∈ [${sci(ci.a[0], 2)}, ${sci(ci.a[1], 2)}], b ∈ [${fixed(ci.b[0], 3)}, ${fixed(ci.b[1], 3)}]${
        law.ci95Method === "bootstrap+t" ? " (few points: bootstrap widened to the Student-t interval)" : ""
      }`
    : "  (no CI: fewer than 3 points)";
  return `${label}: a = ${sci(law.a)}, b = ${fixed(law.b, 3)}, R² = ${fixed(law.r2, 3)}, n = ${law.n}\n${ciText}`;
}

export function formatEtaOptTable(fit: SweepFit): string {
  if (!fit.etaOpt.length) return "η_opt: no lr-grid groups with results yet";
  return renderTable(
    fit.etaOpt.map((g) => ({
      model: g.model,
      tokens: sci(g.tokens, 2),
      batchSize: String(g.batchSize),
      etaOpt: lrText(g.etaOpt),
      "95% CI": g.ci95 ? `[${lrText(g.ci95[0])}, ${lrText(g.ci95[1])}]` : "–",
      lossAtOpt: fixed(g.lossAtOpt),
      curvature: fixed(g.curvature, 3),
      method: g.fallback ? `argmin (${g.fallback})` : g.method,
      edge: g.onEdge ? `extend ${g.extend}` : "",
    })),
  );
}

export function formatGammaTable(fit: SweepFit): string {
  if (!fit.gamma.length) return "γ: no (model, T) with an interior optimum yet";
  return renderTable(
    fit.gamma.map((r) => ({
      model: r.model,
      tokens: sci(r.tokens, 2),
      gamma: sci(r.gamma),
      "β used": r.batchSizesUsed.join(","),
    })),
  );
}

export function formatFit(fit: SweepFit): string {
  const parts = [
    `η_opt per (model, T, β) — parabola in ln η over a band around the minimum; 95% CI from a parametric bootstrap with the pooled noise (argmin rows: neighbouring grid points and any lr within noise of the best); tokens in tokens, β in sequences:`,
    formatEtaOptTable(fit),
    ...(fit.noise
      ? [
          `run-to-run noise of the test loss ≈ ${fixed(fit.noise.sd, 3)} nats (pooled ${fit.noise.source}, ${fit.noise.dof} dof); every η_opt CI uses it`,
        ]
      : []),
    "",
    `γ = η_opt/β per T (mean of the ${fit.options.topK} best batch sizes):`,
    formatGammaTable(fit),
    "",
    formatLaw(fit.law.pooled, "law (pooled over models) γ = a·T^b"),
  ];
  for (const [model, law] of Object.entries(fit.law.perModel)) {
    if (Object.keys(fit.law.perModel).length > 1) parts.push(formatLaw(law, `law for ${model}`));
  }
  if (fit.law.transfer)
    parts.push(
      `transfer across sizes: ${fit.law.transfer.agree ? "b agrees" : "b DISAGREES"} — ${fit.law.transfer.detail}`,
    );
  const bTable = fit.batchSizeLaw.table;
  if (bTable.length) {
    parts.push("", "B_opt(T) (batch size with the lowest loss at its η_opt):");
    parts.push(
      renderTable(
        bTable.map((r) => ({
          model: r.model,
          tokens: sci(r.tokens, 2),
          bOpt: String(r.batchSize),
          lossAtOpt: fixed(r.lossAtOpt),
          edge: r.onEdge ? `extend ${r.onEdge}` : "",
        })),
      ),
    );
    for (const [model, f] of Object.entries(fit.batchSizeLaw.perModel)) {
      if (f)
        parts.push(
          `B_opt = c·T^d for ${model}: c = ${sci(f.c)}, d = ${fixed(f.d, 3)}${f.ci95D ? ` (95% CI [${fixed(f.ci95D[0], 3)}, ${fixed(f.ci95D[1], 3)}])` : ""}, R² = ${fixed(f.r2, 3)}`,
        );
    }
  }
  if (fit.powerSweep?.best) {
    const p = fit.powerSweep;
    parts.push(
      "",
      `power sweep: ${p.indistinguishable ? "lowest loss (NOT distinguishable from the others: see warnings)" : "best"} a = ${p.best!.powerA}, b = ${p.best!.powerB}; loss spread along a ${fixed(p.spreadAlongA)} vs along b ${fixed(p.spreadAlongB)} nats (flatter: ${p.flatter ?? "–"})`,
    );
  }
  if (fit.warnings.length) parts.push("", "warnings:", ...fit.warnings.map((w) => `  ! ${w}`));
  return parts.join("\n");
}
