// The dashboard's data readers and page renderers without a browser (they are pure: data in, HTML out).

import { fitSweep } from "@powersweep/fit";
import { describe, expect, it } from "vitest";
import { type FitView, readFit, type SweepDetail, type TrialRow } from "../src/api.ts";
import { fmtTokens, progressBar, resolveSelection, sweepPage } from "../src/views.ts";
import { syntheticTrials } from "./fixture-server.ts";

/** A trial row as GET /v1/sweeps/:id/trials answers it (TrialSummarySchema). */
const trialRow = (t: Partial<TrialRow> & Pick<TrialRow, "id" | "tokens" | "batchSize" | "status">): TrialRow => ({
  sweepId: "00000000-0000-4000-8000-000000000000",
  key: t.id,
  model: "36M",
  dModel: null,
  lr: null,
  powerA: null,
  powerB: null,
  seed: 0,
  attempts: 1,
  workerId: null,
  startedAt: null,
  finishedAt: null,
  trainLoss: null,
  testLoss: null,
  testPerplexity: null,
  tokensSeen: null,
  wallSeconds: null,
  tokensPerSecond: null,
  error: null,
  errorClass: null,
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
  ...t,
});

const trial = (i: number, tokens: number, batchSize: number, lr: number, status: TrialRow["status"] = "succeeded") =>
  trialRow({
    id: `t${i}`,
    tokens,
    batchSize,
    lr,
    status,
    testLoss: status === "succeeded" ? 3 + Math.log(lr / 1e-3) ** 2 / 10 : null,
  });

/** A sweep as GET /v1/sweeps/:id answers it (SweepDetailSchema). */
const sweepOf = (s: Pick<SweepDetail, "kind" | "status" | "trialCount" | "counts">): SweepDetail => ({
  id: "s",
  name: "s",
  tags: [],
  trainer: "tfjs",
  priority: 0,
  maxAttempts: 3,
  owner: null,
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
  finishedAt: null,
  spec: null,
  remainingTokens: 0,
  trainingTokens: { planned: 0, fromScratch: 0 },
  tokensPerSecond: null,
  ...s,
});

describe("readFit on packages/fit's real SweepFit", () => {
  it("keeps every η_opt cell, γ row and the pooled law with its covariance, and draws Fig. 4d from them", () => {
    const trials = syntheticTrials();
    const fit = JSON.parse(JSON.stringify(fitSweep(trials, { etaBootstrap: 50, lawBootstrap: 100 })));
    const view = readFit(fit);
    expect(view.law?.aCI).toEqual(fit.law.pooled.ci95?.a ?? fit.law.pooled.ci95Analytic.a);
    expect(view.etaOpt).toHaveLength(fit.etaOpt.length);
    expect(view.etaOpt.filter((r) => r.onEdge)).toHaveLength(
      fit.etaOpt.filter((r: { onEdge: boolean }) => r.onEdge).length,
    );
    expect(view.gamma).toHaveLength(fit.gamma.length);
    expect(view.law?.a).toBe(fit.law.pooled.a);
    expect(view.law?.cov).not.toBeNull();
    expect(view.warnings).toEqual(fit.warnings);
    const sweep = sweepOf({
      kind: "import",
      status: "completed",
      trialCount: trials.length,
      counts: { queued: 0, running: 0, succeeded: 124, failed: 0, diverged: 4, cancelled: 0 },
    });
    const data = { sweep, trials: trials.map(trialRow), fit: view, trial: null };
    const html = sweepPage(
      data,
      resolveSelection(data, { model: null, batchSize: null, tokens: null, trialId: null }),
      640,
    );
    const fig4 = html.slice(html.indexOf('id="fig4"'), html.indexOf("</section>", html.indexOf('id="fig4"')));
    expect((fig4.match(/<circle class="pt"/g) ?? []).length).toBe(fit.gamma.length);
    expect(fig4).toContain('class="band"');
  });
});

describe("sweepPage", () => {
  const lrs = [2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3];
  const trials = [2e9, 8e9].flatMap((T, i) =>
    [64, 128].flatMap((B, j) =>
      lrs.map((lr, k) => trial(i * 100 + j * 10 + k, T, B, lr, k === 4 && B === 64 ? "diverged" : "succeeded")),
    ),
  );
  const sweep = sweepOf({
    kind: "lr-grid",
    status: "running",
    trialCount: trials.length,
    counts: { queued: 0, running: 0, succeeded: 18, failed: 0, diverged: 2, cancelled: 0 },
  });

  it("draws Fig. 2 and Fig. 3 from the finished trials of the selected slice, and a placeholder while there is no fit", () => {
    const data = { sweep, trials, fit: null, trial: null };
    const sel = resolveSelection(data, { model: null, batchSize: 64, tokens: 8e9, trialId: null });
    const html = sweepPage(data, sel, 640);
    const fig = (id: string) =>
      html.slice(html.indexOf(`id="${id}"`), html.indexOf("</section>", html.indexOf(`id="${id}"`)));
    expect((fig("fig2").match(/<circle class="pt"/g) ?? []).length).toBe(8); // 2 T × 5 η, minus 2 diverged at β=64
    expect((fig("fig3").match(/<circle class="pt"/g) ?? []).length).toBe(9); // 2 β × 5 η at T=8B, minus 1 diverged
    expect(fig("fig4")).toContain("No fit yet");
  });

  it("marks η_opt from the fit and flags edge cells", () => {
    const fit: FitView = {
      etaOpt: [
        { model: "36M", tokens: 2e9, batchSize: 128, etaOpt: 4e-3, onEdge: true, ci: [3e-3, 5e-3], lossAtOpt: 3 },
      ],
      gamma: [],
      law: null,
      batchOpt: [],
      warnings: [],
    };
    const data = { sweep, trials, fit, trial: null };
    const html = sweepPage(
      data,
      resolveSelection(data, { model: null, batchSize: 128, tokens: 2e9, trialId: null }),
      640,
    );
    expect((html.match(/<path class="opt"/g) ?? []).length).toBe(2); // same cell in Fig. 2 and Fig. 3
    expect(html).toContain("⚠ edge");
    expect(html).toContain('<tr class="edge">');
  });
});

describe("formatting", () => {
  it("writes token budgets the way the paper does", () => {
    expect(fmtTokens(2e9)).toBe("2B");
    expect(fmtTokens(1.28e11)).toBe("128B");
    expect(fmtTokens(5e6)).toBe("5M");
    expect(fmtTokens(null)).toBe("–");
  });

  it("counts trained trials (succeeded or diverged) as done in the progress bar", () => {
    const html = progressBar({ queued: 3, running: 2, succeeded: 4, failed: 1, diverged: 1, cancelled: 0 }, 11);
    expect(html).toContain('data-done="5"');
    expect(html).toContain("5/11</b> done");
    // a cancelled sweep shows what it trained, never "36/36 done"
    const cancelled = progressBar({ queued: 0, running: 0, succeeded: 17, failed: 0, diverged: 0, cancelled: 19 }, 36);
    expect(cancelled).toContain("17/36</b> done");
    expect(cancelled).toContain("19 cancelled");
  });
});

describe("shared trunks on the sweep page", () => {
  it("marks the trunk, each branch and its step, and says what the plan saves", () => {
    const host = trialRow({ id: "h", tokens: 4e9, batchSize: 64, lr: 1e-3, status: "succeeded" });
    const branch = trialRow({
      id: "b",
      tokens: 1e9,
      batchSize: 64,
      lr: 1e-3,
      status: "succeeded",
      branchFrom: "h",
      branchStep: 901,
    });
    const alone = trialRow({ id: "c", tokens: 2e9, batchSize: 128, lr: 1e-3, status: "queued" });
    const sweep = {
      ...sweepOf({
        kind: "lr-grid",
        status: "running",
        trialCount: 3,
        counts: { queued: 1, running: 0, succeeded: 2, failed: 0, diverged: 0, cancelled: 0 },
      }),
      trainingTokens: { planned: 4.1e9 + 2e9, fromScratch: 7e9 },
    };
    const data = { sweep, trials: [host, branch, alone], fit: null, trial: null };
    const html = sweepPage(
      data,
      resolveSelection(data, { model: null, batchSize: null, tokens: null, trialId: null }),
      640,
    );
    const row = (id: string) =>
      html.slice(html.indexOf(`data-trial="${id}"`), html.indexOf("</tr>", html.indexOf(`data-trial="${id}"`)));
    expect(row("h")).toContain("trunk (1)");
    expect(row("b")).toContain("branch @ 901");
    expect(row("c")).toContain("scratch");
    expect(html).toContain("shared trunks: trains 87% of the tokens from scratch");
  });
});

describe("an adaptive η search on the sweep page", () => {
  it("shows the step that placed each trial next to how it runs", () => {
    const coarse = trialRow({ id: "c", tokens: 1e9, batchSize: 64, lr: 1e-3, status: "succeeded" });
    const refine = trialRow({ id: "r", tokens: 1e9, batchSize: 64, lr: 2e-3, status: "queued" });
    const data = {
      sweep: sweepOf({
        kind: "lr-grid",
        status: "running",
        trialCount: 2,
        counts: { queued: 1, running: 0, succeeded: 1, failed: 0, diverged: 0, cancelled: 0 },
      }),
      trials: [
        { ...coarse, placedBy: "search:coarse" },
        { ...refine, placedBy: "search:refine" },
      ],
      fit: null,
      trial: null,
    };
    const html = sweepPage(
      data,
      resolveSelection(data, { model: null, batchSize: null, tokens: null, trialId: null }),
      640,
    );
    const row = (id: string) =>
      html.slice(html.indexOf(`data-trial="${id}"`), html.indexOf("</tr>", html.indexOf(`data-trial="${id}"`)));
    expect(html).toContain("<th>run</th>");
    expect(html).toContain("placed by</th>");
    expect(row("c")).toContain('<td class="placed-by">coarse</td>');
    expect(row("r")).toContain('<td class="placed-by">refine</td>');
    expect(row("r")).toContain("scratch");
    // a grid sweep's table has no such column
    const grid = { ...data, trials: [coarse, refine] };
    const plain = sweepPage(
      grid,
      resolveSelection(grid, { model: null, batchSize: null, tokens: null, trialId: null }),
      640,
    );
    expect(plain).not.toContain("placed by");
  });
});
