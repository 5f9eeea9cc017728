// `npm run bench -- load`: the API under a steady read load while the fleet works. An API process,
// a fitter and a worker (each its own process, as deployed) run on a database of their own; the
// worker trains a sweep with a sleeping exec trainer (lib/sleep-trainer.mjs: real results, no CPU),
// so results and refits arrive during the run. autocannon, on loopback only, reads GET
// /v1/sweeps/:id and GET /v1/sweeps/:id/fit of a fitted sweep at a fixed rate while /metrics is
// scraped ten times a second. Reported: errors, latency percentiles, and the API's resident memory
// at the start and the end. Target (issue 17): 0 errors, p99 < 100 ms, memory flat.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { createDb } from "@powersweep/db";
import { createApiToken } from "@powersweep/orchestrator";
import { ensurePostgres, ensureRedis, loadConfig } from "@powersweep/runtime";
import autocannon from "autocannon";
import { percentile } from "./lib/stats.ts";
import { throwawayDatabase } from "./lib/throwaway-db.ts";

const RATE = Number(process.env.LOAD_RATE ?? 500);
const SECONDS = Number(process.env.LOAD_SECONDS ?? 30);
const METRICS_PER_SECOND = 10;
const root = join(import.meta.dirname, "..");
// The compiled CLI, as deployed (`npm run bench` builds first).
// LOAD_CLI=path/to/main.js runs another build's API, fitter and worker (before/after comparisons).
const cli = [process.execPath, process.env.LOAD_CLI ?? join(root, "apps", "cli", "dist", "main.js")];
/** LOAD_PROFILE_DIR=dir: the API process writes a V8 CPU profile there (--cpu-prof) when it exits. */
const PROFILE_DIR = process.env.LOAD_PROFILE_DIR;

function rssMiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

function start(args: string[], env: NodeJS.ProcessEnv, label: string, nodeArgs: string[] = []): ChildProcess {
  const child = spawn(cli[0]!, [...nodeArgs, ...cli.slice(1), ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
  child.stderr?.on("data", (d) => {
    const text = String(d);
    if (/error|Error/.test(text)) process.stderr.write(`[${label}] ${text}`);
  });
  return child;
}

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const base = loadConfig();
  await ensurePostgres(base.databaseUrl);
  await ensureRedis(base.redisUrl);
  const database = await throwawayDatabase(base.databaseUrl);
  const port = 18_000 + Math.floor(Math.random() * 2000);
  const env = {
    ...process.env,
    DATABASE_URL: database.url,
    REDIS_PREFIX: `bench-load-${Date.now().toString(36)}`,
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    SLEEP_TRAINER_MS: "1000",
  };
  const server = `http://127.0.0.1:${port}`;
  const db = createDb({ url: database.url, max: 2 });
  const children: ChildProcess[] = [];
  try {
    const { token } = await createApiToken(db, { name: "bench-load", scopes: ["admin"] });
    const auth = { authorization: `Bearer ${token}` };
    const api = start(["api"], env, "api", PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : []);
    children.push(api);
    children.push(start(["fitter"], env, "fitter"));
    children.push(
      start(
        ["worker", "--concurrency", "4", "--trainer-exec", `sleepy=node ${join(root, "bench/lib/sleep-trainer.mjs")}`],
        env,
        "worker",
      ),
    );
    await until("the API", async () => ((await fetch(`${server}/readyz`)).ok ? true : undefined));

    // The sweep that is read: 216 imported results (3 T × 3 β × 8 η × 3 seeds), fitted once.
    const rows = ["model,tokens,batchSize,lr,seed,testLoss"];
    for (const T of [1e5, 2e5, 4e5])
      for (const B of [8, 16, 32])
        for (let k = 0; k < 8; k++)
          for (let seed = 0; seed < 3; seed++) {
            const lr = 0.001 * 2 ** k;
            rows.push(
              `d64,${T},${B},${lr},${seed},${(3 + 0.05 * Math.log(lr / 0.01) ** 2 - 0.1 * Math.log10(T)).toFixed(4)}`,
            );
          }
    const imported = await (
      await fetch(`${server}/v1/sweeps?name=load`, {
        method: "POST",
        headers: { ...auth, "content-type": "text/csv" },
        body: rows.join("\n"),
      })
    ).json();
    const readId = (imported as { id: string }).id;
    await until("the import's fit", async () =>
      (await fetch(`${server}/v1/sweeps/${readId}/fit`, { headers: auth })).ok ? true : undefined,
    );

    // The sweep the worker trains during the load: results and refits keep arriving.
    const training = await fetch(`${server}/v1/sweeps`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({
        kind: "lr-grid",
        name: "load: results during reads",
        trainer: "sleepy",
        // every trial from scratch: results arrive at the trainer's pace from the start
        share: "none",
        axes: {
          models: [{ name: "d32", dModel: 32, nLayers: 2, nHeads: 2, dHead: 16, mlpHidden: 96, baseWidth: 32 }],
          tokens: [1e5, 2e5],
          batchSize: [8, 16],
          lr: { geometric: { from: 0.001, factor: 2, count: 8 } },
          seeds: { count: 8 },
        },
      }),
    });
    if (!training.ok) throw new Error(`training sweep refused: ${training.status} ${await training.text()}`);
    const trainingId = ((await training.json()) as { id: string }).id;
    const succeeded = async () =>
      (
        (await (await fetch(`${server}/v1/sweeps/${trainingId}`, { headers: auth })).json()) as {
          counts: { succeeded: number };
        }
      ).counts.succeeded;
    await until("the first results", async () => ((await succeeded()) > 0 ? true : undefined));
    const resultsBefore = await succeeded();

    const rss: number[] = [];
    const metricsLatencies: number[] = [];
    let metricsErrors = 0;
    const sampler = setInterval(() => rss.push(rssMiB(api.pid!)), 1000);
    const cpuBefore = cpuSeconds(api.pid!);
    // The floor in the same run: /healthz (no token, no database) at the scrape rate. Its p99 is
    // what the machine's scheduling alone adds; the reads' p99 above it is the API's own work.
    const healthLatencies: number[] = [];
    const prober = setInterval(async () => {
      const t0 = performance.now();
      const r = await fetch(`${server}/healthz`).catch(() => null);
      await r?.text();
      if (r?.ok) healthLatencies.push(performance.now() - t0);
    }, 1000 / METRICS_PER_SECOND);
    const scraper = setInterval(async () => {
      const t0 = performance.now();
      try {
        const r = await fetch(`${server}/metrics`, { headers: auth });
        await r.text();
        if (!r.ok) metricsErrors++;
      } catch {
        metricsErrors++;
      }
      metricsLatencies.push(performance.now() - t0);
    }, 1000 / METRICS_PER_SECOND);
    const result = await autocannon({
      url: server,
      connections: 16,
      duration: SECONDS,
      overallRate: RATE,
      headers: auth,
      requests: [
        { method: "GET", path: `/v1/sweeps/${readId}` },
        { method: "GET", path: `/v1/sweeps/${readId}/fit` },
      ],
    });
    clearInterval(sampler);
    clearInterval(scraper);
    clearInterval(prober);
    const apiCpu = cpuSeconds(api.pid!) - cpuBefore;
    const resultsDuring = (await succeeded()) - resultsBefore;
    const head = rss.slice(0, 5);
    const tail = rss.slice(-5);
    const rssStart = percentile(head, 50);
    const rssEnd = percentile(tail, 50);
    return {
      targetRatePerSecond: RATE,
      seconds: SECONDS,
      requests: result.requests.total,
      requestsPerSecond: result.requests.average,
      errors: result.errors + result.timeouts,
      non2xx: result.non2xx,
      latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
      metricsScrapes: metricsLatencies.length,
      metricsErrors,
      metricsP99Ms: Math.round(percentile(metricsLatencies, 99) * 10) / 10,
      healthzP99Ms: Math.round(percentile(healthLatencies, 99) * 10) / 10,
      resultsRecordedDuringLoad: resultsDuring,
      // CPU the API process spent per request served (reads and scrapes): steadier than latency
      // on a shared machine, so before/after comparisons use it.
      apiCpuMsPerRequest: Number(((apiCpu * 1000) / (result.requests.total + metricsLatencies.length)).toFixed(3)),
      loadAverage1m: Number(loadavg()[0]?.toFixed(1)),
      apiRssMiB: {
        start: Math.round(rssStart),
        end: Math.round(rssEnd),
        growthPct: Math.round((rssEnd / rssStart - 1) * 1000) / 10,
        // the whole trace, every 5 s: warm-up levels off, a leak keeps climbing
        every5s: rss.filter((_, i) => i % 5 === 0).map((x) => Math.round(x)),
      },
      met: result.errors + result.timeouts + result.non2xx === 0 && result.latency.p99 < 100 && metricsErrors === 0,
    };
  } finally {
    for (const c of children) c.kill("SIGTERM");
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once("exit", r)))));
    await db.$disconnect();
    await database.drop();
  }
}
