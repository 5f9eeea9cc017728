// The GPU study script (studies/gpu_study.py) at a tiny size on the CPU: it plans within its
// budget, builds its corpus, runs train.py trials concurrently, and writes an `import` document
// that the API's parser accepts and the offline fit (studies/fit-gpu-study.ts) consumes whole.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSweepDocument } from "@powersweep/spec";
import { afterAll, describe, expect, it } from "vitest";
import { fitStudy, formatStudyFit } from "../studies/fit-gpu-study.ts";

const root = join(import.meta.dirname, "..");
const script = join(root, "studies", "gpu_study.py");
const python = process.env.POWERSWEEP_PYTHON ?? "/usr/bin/python3";
const torchMissing = spawnSync(python, ["-c", "import torch"]).status !== 0;
if (torchMissing) console.warn(`SKIPPING the GPU study run: ${python} cannot import torch`);
const dir = mkdtempSync(join(tmpdir(), "gpu-study-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const study = (args: string[]) => {
  const r = spawnSync(python, [script, ...args], { encoding: "utf8", timeout: 500_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
};

const TINY = [
  ["--models", "32"],
  ["--layers", "1", "--base-width", "32", "--d-head", "32"],
  ["--tokens", "8192,16384", "--batch-sizes", "8", "--seq-len", "32"],
  ["--lr-exp-from", "-7", "--lr-exp-to", "-5", "--warmup-tokens", "1024", "--eval-tokens", "2048"],
  ["--slots", "2", "--corpus-bytes", "2e6", "--budget-seconds", "100000"],
].flat();

describe("studies/gpu_study.py", { timeout: 600_000 }, () => {
  it("plans the default H200 grid within its budget, dropping the most expensive cells first", () => {
    const plan = study(["plan", "--budget-seconds", "400", "--python", python]);
    const kept = plan.kept as string[];
    const dropped = plan.dropped as string[];
    expect(plan.estimatedSeconds as number).toBeLessThanOrEqual(400);
    expect(dropped[0]).toBe("d512-L4@320M");
    expect(kept).toContain("d128-L4@20M");
    expect(kept.length + dropped.length).toBe(15); // 3 models × 5 token budgets
    expect(plan.trials).toBe(kept.length * 7); // lr 2^-12 … 2^-6
    // a bigger budget keeps more
    const more = study(["plan", "--budget-seconds", "4000", "--python", python]);
    expect((more.kept as string[]).length).toBeGreaterThan(kept.length);
  });

  it.skipIf(torchMissing)("runs a tiny grid on the CPU into an import document the fit reads", () => {
    const out = join(dir, "run");
    const summary = study(["run", "--out", out, "--python", python, ...TINY]);
    expect(summary.statuses).toEqual({ succeeded: 6 });
    const text = readFileSync(join(out, "results.json"), "utf8");
    const parsed = parseSweepDocument(text, "application/json");
    expect(parsed.ok).toBe(true);
    const doc = JSON.parse(text) as { kind: string; rows: Array<Record<string, number | string>> };
    expect(doc.kind).toBe("import");
    expect(doc.rows).toHaveLength(6);
    expect(new Set(doc.rows.map((r) => r.lr))).toEqual(new Set([2 ** -7, 2 ** -6, 2 ** -5]));
    expect(new Set(doc.rows.map((r) => r.tokens))).toEqual(new Set([8192, 16384]));
    // each row is its trial's own result line
    const trials = JSON.parse(readFileSync(join(out, "trials.json"), "utf8")) as Array<{
      tokens: number;
      schedule: { lr: number };
    }>;
    for (const [i, t] of trials.entries()) {
      const lines = readFileSync(join(out, "results", `${i}.jsonl`), "utf8")
        .trim()
        .split("\n");
      const result = JSON.parse(lines.at(-1) as string);
      expect(result.type).toBe("result");
      const row = doc.rows.find((r) => r.tokens === t.tokens && r.lr === t.schedule.lr);
      expect(row?.testLoss).toBe(result.testLoss);
      expect(result.flopsPerToken).toBeGreaterThan(0);
    }
    const perModel = summary.perModel as Record<string, { medianTokensPerSecond: number }>;
    expect(perModel["d32-L1"]?.medianTokensPerSecond).toBeGreaterThan(0);

    const fit = fitStudy(text);
    expect(fit.rows).toBe(6);
    expect(fit.fit.counts.used).toBe(6);
    expect(formatStudyFit(fit)).toContain("paper (arXiv 2408.13359): a = 4.6, b = -0.51");

    // a second run in the same directory reuses every finished trial instead of training again
    const again = study(["run", "--out", out, "--python", python, ...TINY]);
    expect(again.statuses).toEqual({ succeeded: 6 });
    expect(readFileSync(join(out, "results.json"), "utf8").split('"testLoss"').length).toBe(7);
  });

  it.skipIf(torchMissing)("probes throughput with several copies of one trial at once", () => {
    const probe = study(["probe", "--out", join(dir, "probe"), "--python", python, ...TINY, "--concurrency", "2"]);
    expect(probe).toMatchObject({ model: "d32-L1", tokens: 8192, lr: 2 ** -6 });
    const [row] = probe.rows as Array<Record<string, number>>;
    expect(row?.concurrent).toBe(2);
    expect(row?.finished).toBe(2);
    expect(row?.aggregateTokensPerSecond).toBeCloseTo(2 * (row?.tokensPerSecondPerTrial as number), 6);
  });

  it("stops at its deadline: nothing starts after it, and the run still ends with a summary", () => {
    const out = join(dir, "late");
    const summary = study(["run", "--out", out, "--python", python, ...TINY, "--deadline-seconds", "0"]);
    expect(summary.statuses).toEqual({ "not-run": 6 });
    expect(existsSync(join(out, "summary.json"))).toBe(true);
  });
});
