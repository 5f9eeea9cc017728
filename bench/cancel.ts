// `npm run bench -- cancel`: cancelling a 200k-trial sweep (issue 17: one request took 355 s).
// A sweep of CANCEL_TRIALS trials is accepted through the API (trial rows and one job each, as in
// production), then cancelled: reported are the answer's time (target ≤ 1 s), the time until every
// queued trial is cancelled in Postgres, and the time until its jobs are gone from the queue (both
// finish after the answer). A read of another sweep is timed while the background work runs. The
// reference in the same run: the count of the queued trials the answer ran before 2026-12-04 (median of 3).
// Throwaway database and a private Redis prefix, both removed.
import { buildServer } from "@powersweep/api";
import { createDb } from "@powersweep/db";
import { createApiToken } from "@powersweep/orchestrator";
import { createRedis, createTrialQueue } from "@powersweep/queue";
import { ensurePostgres, ensureRedis, loadConfig } from "@powersweep/runtime";
import { benchSweep, percentile } from "./lib/stats.ts";
import { throwawayDatabase } from "./lib/throwaway-db.ts";

const TRIALS = Number(process.env.CANCEL_TRIALS ?? 200_000);

/** `models` × 10 tokens × 10 batchSize × 10 lr × 10 seeds. */
const sweepOf = (name: string, models: number) => benchSweep(name, models, 10);

export async function run(): Promise<Record<string, unknown>> {
  const base = loadConfig();
  await ensurePostgres(base.databaseUrl);
  await ensureRedis(base.redisUrl);
  const database = await throwawayDatabase(base.databaseUrl);
  const prefix = `bench-cancel-${Date.now().toString(36)}`;
  const config = { ...base, databaseUrl: database.url, redisPrefix: prefix, port: 0, maxTrialsPerSweep: TRIALS };
  const db = createDb({ url: database.url });
  const redis = createRedis({ url: config.redisUrl });
  const trialQueue = createTrialQueue(redis, prefix);
  const app = buildServer({ db, redis, trialQueue, config, auth: true });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  const token = await createApiToken(db, { name: `bench-${prefix}`, scopes: ["submit"] });
  const headers = { authorization: `Bearer ${token.token}`, "content-type": "application/json" };
  const submit = async (body: unknown) => {
    const res = await fetch(`${url}/v1/sweeps`, { method: "POST", headers, body: JSON.stringify(body) });
    const out = (await res.json()) as { id: string; trialCount: number };
    if (res.status !== 201) throw new Error(`submit: ${res.status} ${JSON.stringify(out)}`);
    return out;
  };
  try {
    const probe = await submit(sweepOf("cancel probe", 1));
    const t0 = performance.now();
    const big = await submit(sweepOf(`cancel ${TRIALS}`, TRIALS / 10_000));
    const acceptMs = performance.now() - t0;
    if (big.trialCount !== TRIALS) throw new Error(`accepted ${big.trialCount} trials, not ${TRIALS}`);
    const jobsBefore = await trialQueue.count();
    // The reference in the same run: the statement the answer used to run to count the queued trials.
    const countMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const q0 = performance.now();
      await db.$queryRawUnsafe(
        `SELECT count(*)::int AS n FROM "Trial" WHERE "sweepId" = $1::uuid AND status = 'queued'`,
        big.id,
      );
      countMs.push(performance.now() - q0);
    }

    const c0 = performance.now();
    const res = await fetch(`${url}/v1/sweeps/${big.id}/cancel`, { method: "POST", headers, body: "{}" });
    const answer = (await res.json()) as { cancelled: number };
    const answerMs = performance.now() - c0;
    if (res.status !== 200 || answer.cancelled !== TRIALS)
      throw new Error(`cancel: ${res.status} ${JSON.stringify(answer)}`);

    // Reads of another sweep while the queued trials are marked and the jobs removed.
    const reads: number[] = [];
    let cancelledMs = Number.NaN;
    let jobsGoneMs = Number.NaN;
    const deadline = Date.now() + 600_000;
    while (Date.now() < deadline && Number.isNaN(jobsGoneMs)) {
      const r0 = performance.now();
      const r = await fetch(`${url}/v1/sweeps/${probe.id}`, { headers });
      await r.arrayBuffer();
      reads.push(performance.now() - r0);
      if (Number.isNaN(cancelledMs)) {
        const queued = await db.trial.count({ where: { sweepId: big.id, status: "queued" } });
        if (queued === 0) cancelledMs = performance.now() - c0;
      } else if ((await trialQueue.count()) <= jobsBefore - TRIALS) jobsGoneMs = performance.now() - c0;
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      trials: TRIALS,
      acceptMs: Math.round(acceptMs),
      cancelAnswerMs: Math.round(answerMs),
      countQueuedStatementMs: Math.round(percentile(countMs, 50)),
      allTrialsCancelledMs: Math.round(cancelledMs),
      jobsRemovedMs: Math.round(jobsGoneMs),
      readsDuringBackground: reads.length,
      readP99MsDuringBackground: Number(percentile(reads, 99).toFixed(1)),
      targets: "answer ≤ 1 s; trials and jobs finish in the background",
    };
  } finally {
    await app.close();
    await trialQueue.obliterate({ force: true }).catch(() => {});
    await trialQueue.close();
    redis.disconnect();
    await db.$disconnect();
    await database.drop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await run());
