// The study benchmark (issue: study engine): one real lr-grid study of the tfjs trainer on this
// machine (d32 proxy, 4 token budgets doubling, 3 batch sizes, 8 learning rates: 96 trials), run
//   (a) full:   every trial from scratch, as every sweep tool does;
//   (b) trunks: trials that differ only in T share one trunk (the longest trial) and train only their
//               decay branch from its checkpoints (packages/sweep trunks.ts, docs/branches.md);
//   (c) search: per (model, T, β) cell, the adaptive η search (packages/fit lrSearch.ts) from
//               scratch, centred on the γ law fitted to the smaller T once there is one;
//   (d) both:   per β, the adaptive search at the smallest T places the learning rates, each one a
//               trunk scored by its decay branch; at each larger T only the trunks around the best
//               go on (schedule-aware early stopping: survivingLrs), the others are pruned.
// Reported per way: tokens trained, wall time, the fitted γ law (a, b, 95% intervals) and η_opt per
// cell against (a)'s interval. (b) must reproduce (a) exactly (a branch equals its trial from
// scratch), which this benchmark checks on every trial.
//
// STUDY_SIZE=small runs a reduced study (2 T, 2 β, 5 η) for a quick look.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FitRow, fitSweep, nextLrs, type SweepFit, survivingLrs } from "@powersweep/fit";
import type { LrGridSweep, TrialConfig } from "@powersweep/spec";
import { type ExpandedTrial, expandSweep, planTrunks, sharedSteps } from "@powersweep/sweep";
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
    status: r.status,
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

function summary(name: string, runs: Run[], seconds: number, reference?: SweepFit, tokensTrained?: number) {
  const fit = fitSweep(runs.map(row));
  const law = fit.law.pooled;
  const cells = fit.etaOpt.map((g) => {
    const ref = reference?.etaOpt.find((r) => r.tokens === g.tokens && r.batchSize === g.batchSize);
    const inside = ref?.ci95 ? g.etaOpt >= ref.ci95[0] && g.etaOpt <= ref.ci95[1] : null;
    return { tokens: g.tokens, batchSize: g.batchSize, etaOpt: g.etaOpt, ci95: g.ci95, insideFullCi: inside };
  });
  const tokens = tokensTrained ?? runs.reduce((s, r) => s + r.tokensTrained, 0);
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
      const center = law ? batchSize * law.a * tokens ** law.b : undefined;
      const cell: Run[] = [];
      for (;;) {
        const step = nextLrs(
          cell.map((r) => ({ lr: lrOf(r.config), testLoss: r.testLoss, diverged: r.status === "diverged" })),
          { ...SEARCH, ...(center && center > 0 ? { center } : {}) },
        );
        if (step.done) break;
        for (const lr of step.next) cell.push(await train(configAt(base, batchSize, lr, tokens)));
      }
      runs.push(...cell);
    }
  }
  return runs;
}

const lrOf = (c: TrialConfig) => (c.schedule.type === "wsd" ? c.schedule.lr : Number.NaN);

/**
 * (d): trunks with schedule-aware early stopping, per batch size. Every learning rate's trunk (the
 * trial at the largest T) trains to the smallest T's decay start, where its decay branch scores it
 * (its final loss at that T); survivingLrs keeps the trunks around the best and stops the others;
 * the survivors go on to the next T's decay start, and so on. A trunk pauses by aborting after its
 * branch checkpoint (it checkpoints itself) and resumes from its own checkpoint.
 */
/** The config of (batchSize, T) with learning rate lr (any lr, not only the grid's). */
function configAt(base: TrialConfig[], batchSize: number, lr: number, T: number): TrialConfig {
  const c = base.find((x) => x.tokens === T && x.batchSize === batchSize)!;
  return { ...c, schedule: { ...c.schedule, lr } as TrialConfig["schedule"] };
}

async function runLadder(base: TrialConfig[], store: string): Promise<{ runs: Run[]; tokens: number; pruned: number }> {
  const runs: Run[] = [];
  let tokens = 0;
  let pruned = 0;
  const largest = TOKENS.at(-1)!;
  for (const batchSize of BATCH_SIZES) {
    let alive: number[] = [];
    for (const [i, T] of TOKENS.entries()) {
      const level: Run[] = [];
      const score = async (lr: number) => {
        const host = configAt(base, batchSize, lr, largest);
        const own = join(store, `own-${batchSize}-${lr.toPrecision(6)}`);
        if (T === largest) {
          const r = await train(host, { checkpointDir: own });
          tokens += r.tokensTrained;
          level.push(r);
          return;
        }
        const branches = TOKENS.slice(i, -1).map((t) => {
          const config = configAt(base, batchSize, lr, t);
          return {
            config,
            step: sharedSteps(config),
            dir: join(store, `branch-${batchSize}-${lr.toPrecision(6)}-${t}`),
          };
        });
        const next = branches[0]!;
        const controller = new AbortController();
        const segment = await train(host, {
          checkpointDir: own,
          branchCheckpoints: branches,
          signal: controller.signal,
          onBranchCheckpoint: (_step, dir) => {
            if (dir === next.dir) controller.abort("pause");
          },
        });
        tokens += segment.tokensTrained;
        // A trunk that diverged before the branch point: the trial at T diverges at the same step.
        if (segment.status === "diverged") level.push({ ...segment, config: next.config, tokensTrained: 0 });
        else {
          const r = await train(next.config, { startFrom: { dir: next.dir, step: next.step } });
          tokens += r.tokensTrained;
          level.push(r);
        }
      };
      const observed = () =>
        level.map((r) => ({ lr: lrOf(r.config), testLoss: r.testLoss, diverged: r.status === "diverged" }));
      if (i === 0) {
        // The smallest T places the learning rates: the adaptive search, each point a trunk.
        for (;;) {
          const step = nextLrs(observed(), SEARCH);
          if (step.done) break;
          for (const lr of step.next) await score(lr);
        }
      } else for (const lr of alive) await score(lr);
      runs.push(...level);
      if (T === largest) break;
      const survivors = survivingLrs(observed());
      pruned += new Set(level.map((r) => lrOf(r.config))).size - survivors.length;
      alive = survivors;
    }
  }
  return { runs, tokens, pruned };
}

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

  const ladderStore = mkdtempSync(join(tmpdir(), "powersweep-study-"));
  let ladder: Awaited<ReturnType<typeof runLadder>>;
  let ladderSeconds: number;
  try {
    [ladder, ladderSeconds] = await timed(() =>
      runLadder(
        full.map((t) => t.config),
        ladderStore,
      ),
    );
  } finally {
    rmSync(ladderStore, { recursive: true, force: true });
  }
  const d = summary("(d) both", ladder.runs, ladderSeconds, a.fit, ladder.tokens);

  return {
    study: {
      grid: { tokens: TOKENS, batchSizes: BATCH_SIZES, lrs: LRS, model: MODEL.name, trials: full.length },
      fullTokens: a.report.tokens,
      trunkTokens: b.report.tokens,
      plannedTrunkTokens: plan.planTokens,
      searchTokens: c.report.tokens,
      bothTokens: d.report.tokens,
      ratioTrunks: b.report.tokens / a.report.tokens,
      ratioSearch: c.report.tokens / a.report.tokens,
      ratioBoth: d.report.tokens / a.report.tokens,
      prunedTrunks: ladder.pruned,
      branchesDifferingFromScratch: mismatched,
      lawFull: a.report.law,
      lawTrunks: b.report.law,
      lawSearch: c.report.law,
      lawBoth: d.report.law,
      full: a.report,
      trunks: b.report,
      search: c.report,
      both: d.report,
    },
  };
}
