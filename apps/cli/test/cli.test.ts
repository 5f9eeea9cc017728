// The real `powersweep` binary against a real API (and a real worker) on this run's Postgres/Redis.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expectedLrCurve } from "@powersweep/schedules";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabaseUrl, testConfig, uniquePrefix } from "../../../test/env.ts";
import { freePort, runCli } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "powersweep-cli-"));
let env: NodeJS.ProcessEnv;
let stop: () => Promise<void>;

beforeAll(async () => {
  const port = await freePort();
  const config = testConfig({
    port,
    databaseUrl: await freshDatabaseUrl("cli"),
    redisPrefix: uniquePrefix("cli"),
    checkpointDir: join(dir, "ckpt"),
  });
  const { startApi } = await import("@powersweep/api");
  const { startWorker } = await import("@powersweep/worker");
  const { startFitter } = await import("@powersweep/fitter");
  const api = await startApi(config, { logger: false });
  const fitter = await startFitter(config, { log: () => {} });
  const worker = await startWorker({ ...config, concurrency: 2, log: () => {} });
  stop = async () => {
    await worker.close();
    await fitter.close();
    await api.close();
  };
  const created = await runCli(
    [
      "token",
      "create",
      "--name",
      `cli-${config.redisPrefix}`,
      "--scope",
      "admin",
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
    DATABASE_URL: config.databaseUrl,
  };
}, 120_000);

afterAll(async () => {
  await stop?.();
});

const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

// Every step spawns the real CLI (a tsx process): allow for a loaded 2-core machine.
describe("powersweep CLI", { timeout: 180_000 }, () => {
  it("submits a sweep, watches it to completion and lists its trials", async () => {
    const sweep = file(
      "sleep.yaml",
      [
        "kind: lr-grid",
        "name: cli watch",
        "trainer: sleep", // the benchmark trainer: this test is about the CLI, not training
        "axes:",
        "  models: [{ name: tiny, dModel: 16, nLayers: 1, nHeads: 1, dHead: 16, mlpHidden: 32, baseWidth: 16 }]",
        "  tokens: [1000, 2000]",
        "  batchSize: [2]",
        "  lr: { geometric: { from: 0.001, factor: 2, count: 3 } }",
      ].join("\n"),
    );
    const dry = await runCli(["submit", sweep, "--dry-run", "--json"], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).trialCount).toBe(6);

    const sub = await runCli(["submit", sweep, "--json"], env);
    expect(sub.code, sub.stderr).toBe(0);
    const { id, trialCount } = JSON.parse(sub.stdout);
    expect(trialCount).toBe(6);

    const watch = await runCli(["watch", id, "--interval", "0.3"], env, { timeoutMs: 90_000 });
    expect(watch.code, watch.stderr).toBe(0);
    expect(watch.stdout).toMatch(/6\/6/);
    expect(watch.stdout).toMatch(/sweep completed/);

    const status = await runCli(["status", id, "--json"], env);
    expect(JSON.parse(status.stdout).counts.succeeded).toBe(6);

    const trials = await runCli(["trials", id, "--json"], env);
    expect(JSON.parse(trials.stdout).items).toHaveLength(6);
    const none = await runCli(["trials", id, "--status", "failed"], env);
    expect(none.stdout).toMatch(/no trials match/);
  });

  it("fits an imported sweep and prints the tables and the law with its CI", async () => {
    const rows = [];
    for (const tokens of [1e8, 4e8, 1.6e9])
      for (const batchSize of [32, 64, 128])
        for (let k = -3; k <= 3; k++) {
          const etaStar = batchSize * 4.6 * tokens ** -0.51;
          const lr = etaStar * 2 ** (k + 0.25);
          rows.push({ model: "m", tokens, batchSize, lr, testLoss: 3 + 0.2 * Math.log(lr / etaStar) ** 2 });
        }
    const sub = await runCli(
      ["submit", file("import.json", JSON.stringify({ kind: "import", name: "imported", rows })), "--json"],
      env,
    );
    expect(sub.code, sub.stderr).toBe(0);
    const { id } = JSON.parse(sub.stdout);
    let fit = await runCli(["fit", id], env);
    for (let i = 0; i < 40 && fit.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 500));
      fit = await runCli(["fit", id], env);
    }
    expect(fit.code, fit.stderr).toBe(0);
    expect(fit.stdout).toMatch(/η_opt per \(model, T, β\)/);
    expect(fit.stdout).toMatch(/b = -0\.51\d/);
    expect(fit.stdout).toMatch(/95% CI: a ∈ \[/);
    const csv = await runCli(["fit", id, "--csv"], env);
    expect(csv.stdout.split("\n").filter((l) => l.startsWith("m,")).length).toBe(9 + 3);
  });

  it("predicts with the paper's law: ≈ 0.0106 at T = 2e9, β = 128", async () => {
    const res = await runCli([
      "predict",
      "--a",
      "4.6",
      "--b",
      "-0.51",
      "--tokens",
      "2e9",
      "--batch-size",
      "128",
      "--json",
    ]);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout);
    expect(out.lr).toBeCloseTo(0.0106, 4);
    expect(out.schedule).toMatchObject({ type: "power", powerA: 4.6, powerB: -0.51 });
    expect(out.schedule.warmupTokens).toBe(2e7); // 1% of T (the paper's 1e9 tokens caps it)
    expect(out.units).toMatchObject({ tokens: "tokens", batchSize: "sequences" });
    const text = await runCli(["predict", "--a", "4.6", "--b", "-0.51", "--tokens", "2e9", "--batch-size", "128"]);
    expect(text.stdout).toMatch(/= 0\.0106/);
    expect(text.stdout).toMatch(/128 sequences .*2\.00e\+9 tokens/);
    expect(text.stdout).toMatch(/warmup 2\.00e\+7 tokens, exponential decay/);
    expect(text.stdout).toMatch(/powerA = a of the given law; the paper's Power scheduler uses a = 4/);
    // 1e6 tokens: η = 0.50, far above η_max, and said so.
    const small = await runCli(["predict", "--a", "4.6", "--b", "-0.51", "--tokens", "1e6", "--batch-size", "128"]);
    expect(small.stdout).toMatch(/warning: predicted η = 0\.513 is above η_max = 0\.02/);
  });

  it("prints the schedule the trainer would use, matching packages/schedules (exponential decay by default)", async () => {
    const res = await runCli([
      "schedule",
      "--type",
      "power",
      "--tokens",
      "1e6",
      "--batch-size",
      "8",
      "--warmup-tokens",
      "1e4",
      "--points",
      "11",
      "--csv",
    ]);
    expect(res.code, res.stderr).toBe(0);
    const lines = res.stdout.trim().split("\n");
    expect(lines[0]).toBe("tokens,lr");
    const expected = expectedLrCurve(
      {
        type: "power",
        powerA: 4,
        powerB: -0.51,
        etaMax: 0.02,
        warmupTokens: 1e4,
        decayFraction: 0.1,
        decayShape: "exponential",
      },
      { totalTokens: 1e6, batchSize: 8 },
      11,
    );
    expect(lines.slice(1).map((l) => l.split(",").map(Number))).toEqual(expected.map((p) => [p.tokens, p.lr]));
  });

  it("rejects a bad sweep file naming the file, line and field, and writes nothing", async () => {
    const bad = file(
      "bad.yaml",
      [
        "kind: lr-grid",
        "name: bad",
        "axes:",
        "  models: [{ name: m, dModel: 16, nLayers: 1, nHeads: 1, dHead: 16, mlpHidden: 32, baseWidth: 16 }]",
        "  tokens: [-5]",
        "  batchSize: [2]",
        "  lr: [0.01]",
      ].join("\n"),
    );
    const res = await runCli(["submit", bad], env);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/bad\.yaml:5: \/axes\/tokens\/0/);
    const list = await runCli(["status", "--json"], env);
    expect(JSON.parse(list.stdout).items.map((s: { name: string }) => s.name)).not.toContain("bad");
  });

  it("uses exit code 1 for usage errors and 2 for server errors", async () => {
    expect((await runCli(["predict", "--tokens", "1e9"])).code).toBe(1);
    expect((await runCli(["predict", "--tokens", "abc", "--batch-size", "8", "--a", "4", "--b", "-0.5"])).code).toBe(1);
    const unauth = await runCli(["status"], { ...env, POWERSWEEP_TOKEN: "nope" });
    expect(unauth.code).toBe(2);
    expect(unauth.stderr).toMatch(/unauthorised|unknown or revoked/);
    const down = await runCli(["status"], { ...env, POWERSWEEP_SERVER: `http://127.0.0.1:${await freePort()}` });
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/cannot reach the powersweep API/);
  });
});
