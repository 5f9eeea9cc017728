// The exec protocol against a real spawned process: a tiny fake trainer (a Node script written to
// a temp dir) that behaves as FAKE_MODE says. No torch needed.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TrialConfig } from "@powersweep/spec";
import { afterAll, describe, expect, it } from "vitest";
import { createExecTrainer, type ExecJob } from "../src/exec.ts";
import { InvalidConfigError, type TrialProgress } from "../src/types.ts";

const dir = mkdtempSync(join(tmpdir(), "exec-protocol-"));
process.env.DATA_ROOTS = dir; // token files are read only inside the data roots
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Token files so the config is valid and the data step passes them through untouched.
const trainPath = join(dir, "train.bin");
const testPath = join(dir, "test.bin");
writeFileSync(trainPath, Buffer.from(new Uint16Array(4096).map((_, i) => i % 256).buffer));
writeFileSync(testPath, Buffer.from(new Uint16Array(1024).map((_, i) => (i * 7) % 256).buffer));

const fake = join(dir, "fake-trainer.mjs");
writeFileSync(
  fake,
  `
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
const mode = process.env.FAKE_MODE;
const say = (o) => process.stdout.write(JSON.stringify(o) + "\\n");
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", () => {
  const job = JSON.parse(input);
  writeFileSync(process.env.FAKE_JOB_FILE, JSON.stringify({ job, cuda: process.env.CUDA_VISIBLE_DEVICES ?? null }));
  const result = (status, extra = {}) => ({ type: "result", status, trainLoss: 2.5, testLoss: 2.4, testPerplexity: Math.exp(2.4),
    tokensSeen: 2048, steps: 16, tokensPerSecond: 1000, wallSeconds: 2, ...extra });
  if (mode === "ok") {
    console.log("loading data ...");            // not a protocol line: logged, ignored
    console.log("{not json");
    for (let step = 1; step <= 50; step++) say({ type: "progress", step, tokens: step * 128, lr: 0.01, trainLoss: step === 1 ? null : 5 - step / 20, tokensPerSecond: 1000 });
    say({ type: "progress", step: 50, tokens: 6400, lr: 0.01, trainLoss: 2.5, evalLoss: 2.4, tokensPerSecond: 1000 });
    say(result("succeeded"));
  } else if (mode === "branches") {
    for (const b of job.branchCheckpoints ?? []) say({ type: "branch-checkpoint", step: b.step, dir: b.dir });
    say(result("succeeded", { startStep: job.startFrom ? job.startFrom.step : 0 }));
  } else if (mode === "invalid") {
    say({ type: "error", class: "invalid-config", message: "dHead 7 does not divide" });
  } else if (mode === "crash") {
    process.stderr.write("x".repeat(10000) + "\\nTraceback: CUDA out of memory\\n");
    process.exit(1);
  } else if (mode === "reported-crash") {
    process.stderr.write("segfault-ish details\\n");
    say({ type: "error", class: "crash", message: "RuntimeError: boom" });
    process.exit(1);
  } else if (mode === "abort" || mode === "hang") {
    process.on("SIGTERM", () => {
      if (mode === "hang") return; // ignores it: must be SIGKILLed
      say(result("aborted", { checkpointSaved: true, testLoss: null, testPerplexity: null, reason: "SIGTERM" }));
      process.exit(0);
    });
    say({ type: "progress", step: 1, tokens: 128, lr: 0.01, trainLoss: 5.5, tokensPerSecond: 1000 }); // after the handler is in place
    setInterval(() => {}, 1000);
  } else if (mode === "family") {
    // a helper process that ignores SIGTERM, as a data loader might; the trainer itself hangs too
    const helper = spawn(process.execPath, ["-e", "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: "ignore" });
    writeFileSync(process.env.FAKE_JOB_FILE + ".helper", String(helper.pid));
    process.on("SIGTERM", () => {});
    say({ type: "progress", step: 1, tokens: 128, lr: 0.01, trainLoss: 5.5, tokensPerSecond: 1000 });
    setInterval(() => {}, 1000);
  }
});
`,
);

function config(): TrialConfig {
  return {
    model: { name: "d16", dModel: 16, nLayers: 1, nHeads: 2, dHead: 8, mlpHidden: 32, baseWidth: 16 },
    mup: { embMultiplier: 1, residualMultiplier: 1, initStd: 0.02 },
    schedule: { type: "constant", lr: 0.01, warmupTokens: 0 },
    tokens: 2048,
    batchSize: 4,
    seqLen: 32,
    corpus: { type: "token-file", trainPath, testPath, dtype: "uint16", vocabSize: 256 },
    tokenizer: { type: "byte" },
    optimizer: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
    evalTokens: 256,
    seed: 3,
  };
}

function trainer(mode: string, extra: { graceMs?: number; log?: (line: string) => void } = {}) {
  const jobFile = join(dir, `job-${mode}-${Math.random().toString(36).slice(2)}.json`);
  const t = createExecTrainer({
    name: "fake",
    command: [process.execPath, fake],
    env: { FAKE_MODE: mode, FAKE_JOB_FILE: jobFile, CUDA_VISIBLE_DEVICES: "3" },
    log: extra.log ?? (() => {}),
    graceMs: extra.graceMs,
  });
  const sent = () => JSON.parse(readFileSync(jobFile, "utf8")) as { job: ExecJob; cuda: string | null };
  return { t, sent };
}

describe("exec trainer protocol", () => {
  it("sends the job on stdin with env, forwards bounded-rate progress, and returns the result", async () => {
    const logged: string[] = [];
    const { t, sent } = trainer("ok", { log: (line) => logged.push(line) });
    const progress: TrialProgress[] = [];
    const result = await t.runTrial(config(), {
      onProgress: (p) => progress.push(p),
      progressIntervalMs: 60_000,
      checkpointDir: "/tmp/ckpt-x",
      checkpointEveryTokens: 1024,
    });
    expect(result).toMatchObject({ status: "succeeded", testLoss: 2.4, tokensSeen: 2048, steps: 16, backend: "fake" });
    expect(result.testPerplexity).toBeCloseTo(Math.exp(2.4), 10);
    // 51 progress lines within one interval: the first and the final eval line get through, not all 51
    expect(progress.map((p) => p.step)).toEqual([1, 50]);
    expect(Number.isNaN(progress[0]?.trainLoss)).toBe(true); // null (non-finite) → NaN
    expect(progress[1]?.evalLoss).toBe(2.4);
    expect(logged).toEqual(["loading data ...", "{not json"]);
    const { job, cuda } = sent();
    expect(cuda).toBe("3");
    expect(job.config).toEqual(config());
    expect(job.checkpointDir).toBe("/tmp/ckpt-x");
    expect(job.checkpointEveryTokens).toBe(1024);
    expect(job.progressIntervalMs).toBe(60_000);
    expect(job.data).toEqual({ trainPath, testPath, dtype: "uint16", vocabSize: 256 });
  });

  it("forwards every progress line when the interval is 0, and sends nulls for absent checkpoint options", async () => {
    const { t, sent } = trainer("ok");
    const progress: TrialProgress[] = [];
    await t.runTrial(config(), { onProgress: (p) => progress.push(p), progressIntervalMs: 0 });
    expect(progress).toHaveLength(51);
    expect(sent().job.checkpointDir).toBeNull();
    expect(sent().job.checkpointEveryTokens).toBeNull();
  });

  it("carries branch checkpoints and startFrom; branch-checkpoint lines call onBranchCheckpoint before the result", async () => {
    const { t, sent } = trainer("branches");
    const branch = (tokens: number) => ({ ...config(), tokens });
    const branchCheckpoints = [
      { step: 12, dir: "/tmp/host/step-12", config: branch(1536) },
      { step: 8, dir: "/tmp/host/step-8", config: branch(1024) },
    ];
    const announced: [number, string][] = [];
    const result = await t.runTrial(config(), {
      branchCheckpoints,
      onBranchCheckpoint: async (step, d) => {
        await new Promise((r) => setTimeout(r, 20)); // the result waits for a slow callback
        announced.push([step, d]);
      },
      startFrom: { dir: "/tmp/trunk/step-4", step: 4 },
    });
    expect(announced).toEqual([
      [8, "/tmp/host/step-8"],
      [12, "/tmp/host/step-12"],
    ]);
    expect(result.startStep).toBe(4);
    const { job } = sent();
    expect(job.branchCheckpoints?.map((b) => b.step)).toEqual([8, 12]); // ascending
    expect(job.branchCheckpoints?.[0]?.config).toEqual(branch(1024));
    expect(job.startFrom).toEqual({ dir: "/tmp/trunk/step-4", step: 4 });

    const ok = trainer("ok");
    const plain = await ok.t.runTrial(config());
    expect(plain.startStep).toBe(0); // a trainer that does not report it started from scratch
    expect(ok.sent().job.branchCheckpoints).toBeNull();
    expect(ok.sent().job.startFrom).toBeNull();
  });

  it("a failing onBranchCheckpoint fails the trial with its error", async () => {
    const { t } = trainer("branches");
    const branchCheckpoints = [{ step: 8, dir: "/tmp/host/step-8", config: { ...config(), tokens: 1024 } }];
    await expect(
      t.runTrial(config(), {
        branchCheckpoints,
        onBranchCheckpoint: () => {
          throw new Error("cannot mark the branch ready");
        },
      }),
    ).rejects.toThrow("cannot mark the branch ready");
  });

  it("refuses branch checkpoints off this trial's trunk before spawning anything", async () => {
    const { t } = trainer("branches");
    const other = { ...config(), tokens: 1024, seed: 4 };
    await expect(
      t.runTrial(config(), { branchCheckpoints: [{ step: 8, dir: "/tmp/x", config: other }] }),
    ).rejects.toThrow(/trunkKey/);
    const short = { ...config(), tokens: 1024 };
    await expect(
      t.runTrial(config(), { branchCheckpoints: [{ step: 9, dir: "/tmp/x", config: short }] }),
    ).rejects.toThrow(/shares only its first 8 steps/);
  });

  it("turns an invalid-config error line into InvalidConfigError", async () => {
    await expect(trainer("invalid").t.runTrial(config())).rejects.toThrow(InvalidConfigError);
    await expect(trainer("invalid").t.runTrial(config())).rejects.toThrow("dHead 7 does not divide");
  });

  it("rejects a config that fails the TrialConfig schema before spawning anything", async () => {
    const { t } = trainer("ok");
    const bad = { ...config(), batchSize: 0 };
    await expect(t.runTrial(bad)).rejects.toThrow(/config\.batchSize/);
    await expect(t.runTrial(bad)).rejects.toBeInstanceOf(InvalidConfigError);
  });

  it("a non-zero exit without a result is a crash whose message ends with the stderr tail", async () => {
    const error = (await trainer("crash")
      .t.runTrial(config())
      .catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(InvalidConfigError);
    expect(error.message).toContain("exit code 1");
    expect(error.message).toContain("Traceback: CUDA out of memory");
    expect(error.message.length).toBeLessThan(4096 + 200); // a tail, not all 10 KB
  });

  it("a reported crash carries its message and stderr", async () => {
    const error = (await trainer("reported-crash")
      .t.runTrial(config())
      .catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/RuntimeError: boom[\s\S]*segfault-ish details/);
  });

  it("abort sends SIGTERM and returns the trainer's aborted result", async () => {
    const { t } = trainer("abort");
    const controller = new AbortController();
    const result = await t.runTrial(config(), {
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    expect(result).toMatchObject({ status: "aborted", checkpointSaved: true, reason: "SIGTERM" });
  });

  it("a trainer that ignores SIGTERM is killed after the grace period", async () => {
    const { t } = trainer("hang", { graceMs: 300 });
    const controller = new AbortController();
    const started = performance.now();
    const result = await t.runTrial(config(), { signal: controller.signal, onProgress: () => controller.abort() });
    expect(result.status).toBe("aborted");
    expect(result.checkpointSaved).toBe(false);
    expect(result.reason).toMatch(/killed/);
    expect(result.tokensSeen).toBe(128); // from the last progress line
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it("a stopped trial's whole process group is killed, helpers that ignore SIGTERM included", async () => {
    const jobFile = join(dir, `job-family-${Math.random().toString(36).slice(2)}.json`);
    const t = createExecTrainer({
      name: "fake",
      command: [process.execPath, fake],
      env: { FAKE_MODE: "family", FAKE_JOB_FILE: jobFile },
      log: () => {},
      graceMs: 300,
    });
    const controller = new AbortController();
    const result = await t.runTrial(config(), { signal: controller.signal, onProgress: () => controller.abort() });
    expect(result.status).toBe("aborted");
    const helperPid = Number(readFileSync(`${jobFile}.helper`, "utf8"));
    const alive = () => {
      try {
        process.kill(helperPid, 0);
        return true;
      } catch {
        return false;
      }
    };
    // SIGKILL is delivered at once; wait for init to reap the orphan
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
  });

  it("an unstartable command is an Error naming it", async () => {
    const t = createExecTrainer({ name: "missing", command: [join(dir, "no-such-binary")] });
    await expect(t.runTrial(config())).rejects.toThrow(/cannot start .*no-such-binary/);
  });
});
