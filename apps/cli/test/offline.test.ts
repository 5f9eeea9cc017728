// Offline batches end to end: the real CLI exports a sweep's trials from a real API (Postgres,
// Redis), the generated shell runner and Slurm script (with a fake `sbatch`) run them with the
// PyTorch reference trainer, and import-results records them; a real worker runs the same trials
// through the queue for comparison and must never run a trial an export holds.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb, type Db } from "@powersweep/db";
import type { RunningWorker } from "@powersweep/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabaseUrl, testConfig, uniquePrefix } from "../../../test/env.ts";
import { parseTaskOutput, sbatchScript, taskScript } from "../src/commands/offline.ts";
import { freePort, runCli } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "powersweep-offline-"));
let env: NodeJS.ProcessEnv;
let config: ReturnType<typeof testConfig>;
let db: Db;
let worker: RunningWorker | null = null;
let stopApi: () => Promise<void>;

beforeAll(async () => {
  const port = await freePort();
  config = testConfig({
    port,
    databaseUrl: await freshDatabaseUrl("offline"),
    redisPrefix: uniquePrefix("offline"),
    checkpointDir: join(dir, "ckpt"),
  });
  db = createDb({ url: config.databaseUrl, max: 2 });
  const { startApi } = await import("@powersweep/api");
  const api = await startApi(config, { logger: false });
  stopApi = () => api.close();
  const created = await runCli(
    [
      "token",
      "create",
      "--name",
      `offline-${config.redisPrefix}`,
      "--scope",
      "submit",
      "--json",
      "--database-url",
      config.databaseUrl,
    ],
    {},
  );
  expect(created.code, created.stderr).toBe(0);
  env = {
    POWERSWEEP_SERVER: `http://127.0.0.1:${port}`,
    POWERSWEEP_TOKEN: JSON.parse(created.stdout).token,
    POWERSWEEP_DATA_CACHE: join(dir, "data-cache"),
  };
}, 120_000);

afterAll(async () => {
  await worker?.close();
  await stopApi?.();
  await db?.$disconnect();
});

async function startTheWorker() {
  const { startWorker } = await import("@powersweep/worker");
  worker = await startWorker({ ...config, concurrency: 1, log: () => {} });
  return worker;
}

async function stopTheWorker() {
  await worker?.close();
  worker = null;
}

/** A tiny torch lr-grid: 2 lrs × 2 batch sizes, a few hundred steps' worth of nothing. */
function sweepFile(name: string): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      kind: "lr-grid",
      name,
      trainer: "torch",
      axes: {
        models: [{ name: "d16-L1", dModel: 16, nLayers: 1, nHeads: 2, dHead: 8, mlpHidden: 32, baseWidth: 16 }],
        tokens: [2048],
        batchSize: [4, 8],
        lr: [0.003, 0.01],
        seeds: [0],
      },
      schedule: { type: "wsd", warmupTokens: 256, decayFraction: 0.2, decayShape: "linear" },
      training: { seqLen: 16, evalTokens: 512 },
    }),
  );
  return path;
}

async function submit(name: string): Promise<string> {
  const r = await runCli(["submit", sweepFile(name), "--json"], env);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).id as string;
}

const trialsOf = (sweepId: string) =>
  db.trial.findMany({ where: { sweepId }, orderBy: [{ batchSize: "asc" }, { lr: "asc" }] });

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 150_000) {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const metricCount = (sweepId: string) => db.trialMetric.count({ where: { trial: { sweepId } } });

describe("parseTaskOutput", () => {
  it("keeps progress as metrics (last line per step), the result, and calls a file without one a crash", () => {
    const text = [
      "some log line",
      '{"type": "progress", "step": 1, "tokens": 64, "lr": 0.001, "trainLoss": 5.5, "tokensPerSecond": 10}',
      '{"type": "progress", "step": 2, "tokens": 128, "lr": 0.002, "trainLoss": null, "tokensPerSecond": 10}',
      '{"type": "progress", "step": 2, "tokens": 128, "lr": 0.002, "trainLoss": 5.1, "evalLoss": 5.2}',
      '{"type": "result", "status": "succeeded", "testLoss": 5.2, "tokensSeen": 128}',
    ].join("\n");
    const out = parseTaskOutput(text);
    expect(out.metrics).toEqual([
      { step: 1, tokens: 64, lr: 0.001, trainLoss: 5.5 },
      { step: 2, tokens: 128, lr: 0.002, trainLoss: 5.1, evalLoss: 5.2 },
    ]);
    expect(out.result).toEqual({ status: "succeeded", testLoss: 5.2, tokensSeen: 128 });
    expect(out.error).toBeUndefined();
    expect(parseTaskOutput('{"type":"progress","step":1,"tokens":1,"lr":1,"trainLoss":1}\n').error).toEqual({
      class: "crash",
      message: "the trainer exited without a result",
    });
    expect(parseTaskOutput('{"type":"error","class":"invalid-config","message":"bad"}').error).toEqual({
      class: "invalid-config",
      message: "bad",
    });
  });

  it("writes a job array over every task, with extra #SBATCH lines", () => {
    const s = sbatchScript({ version: 1, batch: "b1", sweepId: "s", trainer: "torch", count: 12, createdAt: "" }, [
      "--gres=gpu:1",
    ]);
    expect(s).toContain("#SBATCH --array=0-11\n");
    expect(s).toContain("#SBATCH --gres=gpu:1\n");
    expect(s).toContain('run-task.sh "$SLURM_ARRAY_TASK_ID"');
  });
});

describe("a tfjs task", { timeout: 240_000 }, () => {
  it("runs `powersweep train` on its exported trial file from any directory", () => {
    const out = join(dir, "tfjs-task");
    mkdirSync(join(out, "trials"), { recursive: true });
    const config = {
      model: { name: "d16-L1", dModel: 16, nLayers: 1, nHeads: 2, dHead: 8, mlpHidden: 32, baseWidth: 16 },
      mup: { embMultiplier: 1, residualMultiplier: 1, initStd: 0.05 },
      schedule: { type: "constant", lr: 0.01, warmupTokens: 0 },
      tokens: 512,
      batchSize: 4,
      seqLen: 16,
      corpus: { type: "sotu" },
      tokenizer: { type: "byte" },
      optimizer: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
      evalTokens: 256,
      seed: 1,
    };
    const trial = { trialId: "00000000-0000-4000-8000-000000000001", attempt: 1, trainer: "tfjs", config };
    writeFileSync(join(out, "trials", "0.json"), JSON.stringify(trial));
    writeFileSync(join(out, "run-task.sh"), taskScript("tfjs"));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "POWERSWEEP_CLI"));
    execFileSync("sh", [join(out, "run-task.sh"), "0"], { cwd: tmpdir(), env });
    const task = parseTaskOutput(readFileSync(join(out, "results", "0.jsonl"), "utf8"));
    expect(task.result).toMatchObject({ status: "succeeded", tokensSeen: 512 });
    expect(task.metrics.at(-1)?.evalLoss).toBe(task.result?.testLoss);
  });
});

// Every step spawns the real CLI and PyTorch: allow for a loaded 2-core machine.
describe("powersweep export / import-results", { timeout: 600_000 }, () => {
  it("export → shell runner → import records the same results as the worker path, and a re-import adds nothing", async () => {
    const offline = await submit("offline-a");
    const online = await submit("online-a");
    const out = join(dir, "batch-a");
    const exp = await runCli(["export", offline, "--out", out, "--batch", "a1", "--json"], env);
    expect(exp.code, exp.stderr).toBe(0);
    expect(JSON.parse(exp.stdout)).toMatchObject({ batch: "a1", count: 4, trainer: "torch" });
    expect(readdirSync(join(out, "trials")).sort()).toEqual(["0.json", "1.json", "2.json", "3.json"]);
    expect((await trialsOf(offline)).map((t) => [t.status, t.workerId, t.attempts])).toEqual(
      Array(4).fill(["running", "export:a1", 1]),
    );

    // the compute node's side: only the directory, python and torch
    execFileSync("sh", [join(out, "run-all.sh"), "-j", "2"], {
      env: { ...process.env, POWERSWEEP_PYTHON: "/usr/bin/python3" },
    });
    expect(readdirSync(join(out, "results")).sort()).toEqual(["0.jsonl", "1.jsonl", "2.jsonl", "3.jsonl"]);

    const imp = await runCli(["import-results", out, "--json"], env);
    expect(imp.code, imp.stderr).toBe(0);
    expect(JSON.parse(imp.stdout)).toMatchObject({ recorded: 4, duplicate: 0, notRun: 0 });
    const metrics = await metricCount(offline);
    expect(metrics).toBeGreaterThan(0);
    const afterFirst = await trialsOf(offline);
    const again = await runCli(["import-results", out, "--json"], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ recorded: 0, duplicate: 4 });
    expect(await trialsOf(offline)).toEqual(afterFirst);
    expect(await metricCount(offline)).toBe(metrics);
    expect((await db.sweep.findUniqueOrThrow({ where: { id: offline } })).status).toBe("completed");

    // the same trials through the queue and a worker
    await startTheWorker();
    await until(
      "the worker's sweep",
      async () => (await db.sweep.findUnique({ where: { id: online } }))?.status === "completed",
    );
    const viaWorker = await trialsOf(online);
    const viaExport = await trialsOf(offline);
    expect(viaWorker.map((t) => t.status)).toEqual(Array(4).fill("succeeded"));
    for (const [i, t] of viaExport.entries()) {
      const w = viaWorker[i]!;
      expect([t.status, t.batchSize, t.lr, t.attempts]).toEqual([w.status, w.batchSize, w.lr, w.attempts]);
      expect(t.testLoss).toBeCloseTo(w.testLoss as number, 5);
      expect(t.trainLoss).toBeCloseTo(w.trainLoss as number, 5);
      expect(t.tokensSeen).toBe(w.tokensSeen);
    }
    // the offline trials' jobs reached the worker too: it left them alone (still one attempt each)
    expect((await trialsOf(offline)).map((t) => t.attempts)).toEqual([1, 1, 1, 1]);
    await stopTheWorker();
  });

  it("a worker never runs a trial an export holds; a fake sbatch runs the array; --release gives unrun trials back", async () => {
    const sweep = await submit("offline-b");
    const out = join(dir, "batch-b");
    const exp = await runCli(
      ["export", sweep, "--out", out, "--batch", "b1", "--limit", "2", "--sbatch", "--gres=gpu:1", "--json"],
      env,
    );
    expect(exp.code, exp.stderr).toBe(0);
    const held = (await trialsOf(sweep)).filter((t) => t.workerId === "export:b1").map((t) => t.id);
    expect(held).toHaveLength(2);

    // the worker takes every job of the sweep from the queue, but runs only the two it may claim
    const w = await startTheWorker();
    await until(
      "the worker's two trials",
      async () => (await trialsOf(sweep)).filter((t) => t.status === "succeeded").length === 2,
    );
    await new Promise((r) => setTimeout(r, 1500)); // the held trials' jobs have been handed out by now
    await stopTheWorker();
    for (const t of await trialsOf(sweep)) {
      if (held.includes(t.id)) expect([t.status, t.workerId, t.attempts]).toEqual(["running", "export:b1", 1]);
      else expect([t.status, t.workerId, t.attempts]).toEqual(["succeeded", w.id, 1]);
    }

    // Slurm: a fake sbatch on PATH runs the array's tasks here, one after the other, as Slurm would
    const bin = join(dir, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, "sbatch"),
      `#!/bin/sh
script="$1"
range=$(sed -n 's/^#SBATCH --array=\\([0-9]*-[0-9]*\\).*/\\1/p' "$script")
grep -q '^#SBATCH --gres=gpu:1' "$script" || { echo "fake sbatch: no --gres line" >&2; exit 1; }
for i in $(seq \${range%-*} \${range#*-}); do
  SLURM_ARRAY_TASK_ID=$i SLURM_SUBMIT_DIR=$PWD sh "$script" || exit 1
done
echo "Submitted batch job 42"
`,
    );
    chmodSync(join(bin, "sbatch"), 0o755);
    // one task ran before (a partial directory), and must not run again
    execFileSync("sh", [join(out, "run-task.sh"), "0"], {
      env: { ...process.env, POWERSWEEP_PYTHON: "/usr/bin/python3" },
    });
    const first = readFileSync(join(out, "results", "0.jsonl"), "utf8");
    const partial = await runCli(["import-results", out, "--json"], env);
    expect(JSON.parse(partial.stdout)).toMatchObject({ recorded: 1, notRun: 1 });
    const sb = execFileSync("sbatch", ["slurm.sbatch"], {
      cwd: out,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, POWERSWEEP_PYTHON: "/usr/bin/python3" },
    }).toString();
    expect(sb).toContain("Submitted batch job");
    expect(readFileSync(join(out, "results", "0.jsonl"), "utf8")).toBe(first); // not run twice
    const rest = await runCli(["import-results", out, "--json"], env);
    expect(JSON.parse(rest.stdout)).toMatchObject({ recorded: 1, duplicate: 1, notRun: 0 });
    const done = await trialsOf(sweep);
    expect(done.map((t) => [t.status, t.attempts])).toEqual(Array(4).fill(["succeeded", 1]));
    expect((await db.sweep.findUniqueOrThrow({ where: { id: sweep } })).status).toBe("completed");

    // a batch that is only partly run: --release gives the rest back to the workers
    const sweepC = await submit("offline-c");
    const outC = join(dir, "batch-c");
    expect((await runCli(["export", sweepC, "--out", outC, "--batch", "c1", "--limit", "2"], env)).code).toBe(0);
    execFileSync("sh", [join(outC, "run-task.sh"), "1"], {
      env: { ...process.env, POWERSWEEP_PYTHON: "/usr/bin/python3" },
    });
    const rel = await runCli(["export", "--release", outC, "--json"], env);
    expect(rel.code, rel.stderr).toBe(0);
    expect(JSON.parse(rel.stdout)).toMatchObject({ recorded: 1, notRun: 1, released: 1 });
    await startTheWorker();
    await until("sweep c", async () => (await db.sweep.findUnique({ where: { id: sweepC } }))?.status === "completed");
    await stopTheWorker();
    const c = await trialsOf(sweepC);
    expect(c.map((t) => t.status)).toEqual(Array(4).fill("succeeded"));
    // the released trial took a second attempt on the worker; a late task result for it is refused
    expect(c.map((t) => t.attempts).sort()).toEqual([1, 1, 1, 2]);
    execFileSync("sh", [join(outC, "run-task.sh"), "0"], {
      env: { ...process.env, POWERSWEEP_PYTHON: "/usr/bin/python3" },
    });
    const late = await runCli(["import-results", outC, "--json"], env);
    expect(JSON.parse(late.stdout)).toMatchObject({ recorded: 0, duplicate: 1, "not-held": 1 });
    expect(await trialsOf(sweepC)).toEqual(c);
    expect(existsSync(join(outC, "train.py"))).toBe(true);
  });

  it("refuses a non-empty --out and a missing sweep, naming them", async () => {
    const r = await runCli(["export", "00000000-0000-4000-8000-000000000000", "--out", join(dir, "none")], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no sweep/);
    mkdirSync(join(dir, "busy"), { recursive: true });
    writeFileSync(join(dir, "busy", "manifest.json"), "{}");
    const busy = await runCli(["export", "00000000-0000-4000-8000-000000000000", "--out", join(dir, "busy")], env);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/--out .*not empty/);
    const badBatch = await runCli(
      ["export", "00000000-0000-4000-8000-000000000000", "--out", join(dir, "bad"), "--batch", "../x"],
      env,
    );
    expect(badBatch.code).toBe(2);
    expect(badBatch.stderr).toMatch(/\/batch: /);
  });
});
