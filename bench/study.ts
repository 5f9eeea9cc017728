// The study benchmark (issue: study engine): one real lr-grid study of the tfjs trainer on this
// machine (d32 proxy, 4 token budgets doubling, 3 batch sizes, 8 learning rates: 96 trials), run
//   (a) full:   every trial from scratch, as every sweep tool does;
//   (b) trunks: trials that differ only in T share one trunk (the longest trial) and train only their
//               decay branch from its checkpoints (packages/sweep trunks.ts, docs/branches.md);
//   (c) search: per (model, T, β) cell, the adaptive η search (packages/fit lrSearch.ts) from
//               scratch, centred on the γ law fitted to the smaller T once there is one.
// Reported per way: tokens trained, wall time, the fitted γ law (a, b, 95% intervals) and η_opt per
// cell against (a)'s interval. (b) must reproduce (a) exactly (a branch equals its trial from
// scratch), which this benchmark checks on every trial.
//
// STUDY_SIZE=small runs a reduced study (2 T, 2 β, 5 η) for a quick look.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FitRow, fitSweep, nextLrs, type SweepFit } from "@powersweep/fit";
import type { LrGridSweep, TrialConfig } from "@powersweep/spec";
import { type ExpandedTrial, expandSweep, planTrunks } from "@powersweep/sweep";
import { createTfjsTrainer } from "../packages/trainer/src/tfjs.ts";

const small = process.env.STUDY_SIZE === "small";
const MODEL = { name: "d32-L2", dModel: 32, nLayers: 2, nHeads: 2, dHead: 16, mlpHidden: 96, baseWidth: 32 };
const TOKENS = small ? [25_000, 50_000] : [25_000, 50_000, 100_000, 200_000];
const BATCH_SIZES = small ? [4, 8] : [4, 8, 16];
const LRS = Array.from({ length: small ? 5 : 8 }, (_, k) => Number((0.0025 * 2 ** k).toPrecision(6)));
const SEARCH = { from: LRS[0]!, to: LRS.at(-1)!, tolerance: 1.25, maxTrials: 6 };

const doc = (share: "trunks" | "none"): LrGridSweep => ({
  kind: "lr-grid",
  name: "study benchmark",
  share,
  axes: { models: [MODEL], tokens: TOKENS, batchSize: BATCH_SIZES, lr: LRS, seeds: [0] },
  schedule: { type: "wsd", warmupTokens: 2000, decayFraction: 0.1, decayShape: "exponential" },
  training: { seqLen: 64, evalTokens: 16384 },
});

interface Run {
  config: TrialConfig;
  testLoss: number | null;
  status: string;
  tokensTrained: number;
}

const trainer = createTfjsTrainer();
const tokensPerStep = (c: TrialConfig) => c.batchSize * c.seqLen;

async function train(config: TrialConfig, options: Parameters<typeof trainer.runTrial>[1] = {}): Promise<Run> {
  const r = await trainer.runTrial(config, options);
  return {
    config,
    testLoss: r.testLoss,
    status: r.status === "diverged" ? "diverged" : "succeeded",
    tokensTrained: (r.steps - (r.startStep ?? 0)) * tokensPerStep(config),
  };
}

const row = (r: Run): FitRow => ({
  model: r.config.model.name,
  tokens: r.config.tokens,
  batchSize: r.config.batchSize,
  lr: r.config.schedule.type === "wsd" ? r.config.schedule.lr : null,
  seed: r.config.seed,
  testLoss: r.testLoss,
  status: r.status,
});

function summary(name: string, runs: Run[], seconds: number, reference?: SweepFit) {
  const fit = fitSweep(runs.map(row));
  const law = fit.law.pooled;
  const cells = fit.etaOpt.map((g) => {
    const ref = reference?.etaOpt.find((r) => r.tokens === g.tokens && r.batchSize === g.batchSize);
    const inside = ref?.ci95 ? g.etaOpt >= ref.ci95[0] && g.etaOpt <= ref.ci95[1] : null;
    return { tokens: g.tokens, batchSize: g.batchSize, etaOpt: g.etaOpt, ci95: g.ci95, insideFullCi: inside };
  });
  const tokens = runs.reduce((s, r) => s + r.tokensTrained, 0);
  console.log(`${name}: ${runs.length} runs, ${tokens} tokens, ${seconds.toFixed(0)} s, a=${law?.a} b=${law?.b}`);
  return {
    fit,
    report: {
      runs: runs.length,
      tokens,
      wallSeconds: seconds,
      law: law ? { a: law.a, b: law.b, aCI: law.ci95?.a ?? null, bCI: law.ci95?.b ?? null } : null,
      cells,
    },
  };
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const out = await fn();
  return [out, (performance.now() - t0) / 1000];
}

/** (b): each host trains once and saves a checkpoint for each of its branches, which then train their decay. */
async function runTrunks(trials: ExpandedTrial[], store: string): Promise<Run[]> {
  const runs: Run[] = [];
  for (const host of trials.filter((t) => t.branchFrom === null)) {
    const branches = trials.filter((t) => t.branchFrom === host.key);
    const dirs = branches.map((b) => join(store, b.key));
    runs.push(
      await train(host.config, {
        branchCheckpoints: branches.map((b, i) => ({ step: b.branchStep!, dir: dirs[i]!, config: b.config })),
      }),
    );
    for (const [i, b] of branches.entries())
      runs.push(await train(b.config, { startFrom: { dir: dirs[i]!, step: b.branchStep! } }));
  }
  return runs;
}

/** (c): per cell, T ascending, the adaptive search; cells of a larger T start centred on the γ law so far. */
async function runSearch(base: TrialConfig[]): Promise<Run[]> {
  const runs: Run[] = [];
  for (const tokens of TOKENS) {
    const law = runs.length ? fitSweep(runs.map(row)).law.pooled : null;
    for (const batchSize of BATCH_SIZES) {
      const template = base.find((c) => c.tokens === tokens && c.batchSize === batchSize)!;
      const center = law ? batchSize * law.a * tokens ** law.b : undefined;
      const cell: Run[] = [];
      for (;;) {
        const step = nextLrs(
          cell.map((r) => ({ lr: lrOf(r.config), testLoss: r.testLoss, diverged: r.status === "diverged" })),
          { ...SEARCH, ...(center && center > 0 ? { center } : {}) },
        );
        if (step.done) break;
        for (const lr of step.next)
          cell.push(await train({ ...template, schedule: { ...template.schedule, lr } as TrialConfig["schedule"] }));
      }
      runs.push(...cell);
    }
  }
  return runs;
}

const lrOf = (c: TrialConfig) => (c.schedule.type === "wsd" ? c.schedule.lr : Number.NaN);

export async function run() {
  const full = [...expandSweep(doc("none"))];
  const shared = [...expandSweep(doc("trunks"))];
  const plan = planTrunks(shared.map((t) => t.config));

  const [fullRuns, fullSeconds] = await timed(async () => {
    const out: Run[] = [];
    for (const t of full) out.push(await train(t.config));
    return out;
  });
  const a = summary("(a) full", fullRuns, fullSeconds);

  const store = mkdtempSync(join(tmpdir(), "powersweep-study-"));
  let trunkRuns: Run[];
  let trunkSeconds: number;
  try {
    [trunkRuns, trunkSeconds] = await timed(() => runTrunks(shared, store));
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
  const b = summary("(b) trunks", trunkRuns, trunkSeconds, a.fit);
  // A branch equals its trial from scratch: every test loss bit for bit.
  const scratchLoss = new Map(fullRuns.map((r) => [JSON.stringify(r.config), r.testLoss]));
  const mismatched = trunkRuns.filter((r) => scratchLoss.get(JSON.stringify(r.config)) !== r.testLoss).length;

  const [searchRuns, searchSeconds] = await timed(() => runSearch(full.map((t) => t.config)));
  const c = summary("(c) search", searchRuns, searchSeconds, a.fit);

  return {
    study: {
      grid: { tokens: TOKENS, batchSizes: BATCH_SIZES, lrs: LRS, model: MODEL.name, trials: full.length },
      fullTokens: a.report.tokens,
      trunkTokens: b.report.tokens,
      plannedTrunkTokens: plan.planTokens,
      searchTokens: c.report.tokens,
      bothTokens: null,
      ratioTrunks: b.report.tokens / a.report.tokens,
      ratioSearch: c.report.tokens / a.report.tokens,
      ratioBoth: null,
      branchesDifferingFromScratch: mismatched,
      lawFull: a.report.law,
      lawTrunks: b.report.law,
      lawSearch: c.report.law,
      lawBoth: null,
      full: a.report,
      trunks: b.report,
      search: c.report,
    },
  };
}
