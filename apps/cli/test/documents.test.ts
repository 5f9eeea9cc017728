// The documents a new user writes by hand (docs/documents.md): each example in examples/ parses, and
// the CLI reads trial configs and sweeps the way its help says. Pure: no server, no database.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseExtendDocument, parseSweepDocument } from "@powersweep/spec";
import { extendSweep, sweepSize } from "@powersweep/sweep";
import { describe, expect, it } from "vitest";
import { dryRunPlan } from "../src/commands/sweeps.ts";
import { readTrialConfig } from "../src/commands/train.ts";

const root = join(import.meta.dirname, "..", "..", "..");
const example = (name: string) => join(root, "examples", name);
const tmp = mkdtempSync(join(tmpdir(), "powersweep-docs-"));

function sweep(name: string) {
  const r = parseSweepDocument(readFileSync(example(name), "utf8"), "application/yaml");
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

describe("train --config", () => {
  it("reads a YAML trial config, and the same trial picked from its sweep with --trial", () => {
    const own = readTrialConfig(example("trial.yaml"));
    // demo.yaml: tokens 25k × batchSize [4, 8, 16] × lr 0.0025·2^k; batch 8, lr 0.01 is trial 6 + 2.
    const picked = readTrialConfig(example("demo.yaml"), 8);
    expect(picked.config).toEqual(own.config);
    expect(picked.picked).toBe("trial 8 of 54: d32-L2, 25000 tokens, batch size 8 sequences, lr 0.01, seed 0");
  });

  it("reads a JSON trial config and takes a JSON sweep's first trial by default", () => {
    const file = join(tmp, "trial.json");
    writeFileSync(file, JSON.stringify(readTrialConfig(example("trial.yaml")).config));
    expect(readTrialConfig(file).config.schedule).toMatchObject({ type: "wsd", lr: 0.01 });
    const sweepFile = join(tmp, "sweep.json");
    writeFileSync(sweepFile, JSON.stringify(sweep("demo.yaml")));
    expect(readTrialConfig(sweepFile).picked).toMatch(/^trial 0 of 54: /);
  });

  it("names --trial and the sweep's size when the index is out of range", () => {
    expect(() => readTrialConfig(example("demo.yaml"), 54)).toThrow(
      "--trial must be an integer from 0 to 53 (" + example("demo.yaml") + " expands to 54 trials)",
    );
  });

  it("names the file, line and field of a bad trial config, with the allowed values", () => {
    const file = join(tmp, "bad.yaml");
    writeFileSync(
      file,
      readFileSync(example("trial.yaml"), "utf8").replace("decayShape: exponential", "decayShape: expo"),
    );
    expect(() => readTrialConfig(file)).toThrow(
      `${file}:5: /schedule/decayShape: value must be one of "exponential", "linear", "cosine", "one-minus-sqrt"`,
    );
  });
});

describe("examples of docs/documents.md", () => {
  it("are each linked from the guide", () => {
    const guide = readFileSync(join(root, "docs", "documents.md"), "utf8");
    for (const f of ["trial.yaml", "extend.yaml", "import.csv", "demo.yaml", "power-grid.yaml"])
      expect(guide).toContain(`(../examples/${f})`);
  });

  it("extend.yaml adds an lr past the demo's top edge and a fourth token budget", () => {
    const ext = parseExtendDocument(readFileSync(example("extend.yaml"), "utf8"), "application/yaml");
    if (!ext.ok) throw new Error(JSON.stringify(ext.errors));
    const demo = sweep("demo.yaml");
    expect(sweepSize(extendSweep(demo as never, ext.value)).trials).toBe(4 * 3 * 7);
  });

  it("import.csv is an import of 8 rows", () => {
    const r = parseSweepDocument(readFileSync(example("import.csv"), "utf8"), "text/csv", { name: "example" });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.value).toMatchObject({ kind: "import", name: "example" });
    expect(r.value.kind === "import" && r.value.rows.length).toBe(8);
  });
});

describe("submit --dry-run", () => {
  it("expands offline and says how many trials it did not list", () => {
    const plan = dryRunPlan(sweep("demo.yaml"), 10);
    expect(plan.trialCount).toBe(54);
    expect(plan.trials).toHaveLength(10);
    expect(plan.truncated).toBe(true);
    expect(dryRunPlan(sweep("demo.yaml"), Number.POSITIVE_INFINITY).truncated).toBe(false);
  });
});

describe("submit --dry-run of an adaptive η search", () => {
  it("lists the coarse grid with the step that placed each trial and says the search adds more", () => {
    const doc = {
      kind: "lr-grid",
      name: "search",
      axes: {
        models: [{ name: "d32", dModel: 32, nLayers: 2, nHeads: 2, dHead: 16, mlpHidden: 128, baseWidth: 32 }],
        tokens: [25000, 50000],
        batchSize: [4],
        lr: { search: { from: 1e-3, to: 1e-1, maxTrials: 9 } },
      },
    };
    const parsed = parseSweepDocument(JSON.stringify(doc), "application/json");
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const plan = dryRunPlan(parsed.value, 100);
    expect(plan.trialCount).toBe(10);
    expect(plan.axes).toContain("the search adds more, at most 9 per (model, T, β): 18 in all");
    expect(plan.trials.every((t) => t.placedBy === "search:coarse")).toBe(true);
  });
});
