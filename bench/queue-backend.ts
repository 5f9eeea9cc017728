// BullMQ 6's PostgreSQL backend against Redis: add and process N no-op jobs (priority set, as our
// trial jobs have), 4 at a time. See docs/queue-backend.md.
// BENCH_QUEUE_PG_URL=postgresql://… (an empty database; BullMQ migrates its own `bullmq` schema)
import { Queue, Worker } from "bullmq";
import { createPostgresBackend, runMigrations } from "bullmq/dist/esm/postgres/index.js";
import { Redis } from "ioredis";

const N = 2000;
async function run(label: string, mk: () => { q: Queue; w: (fn: () => void) => Worker }) {
  const { q, w } = mk();
  const t0 = performance.now();
  for (let i = 0; i < N; i += 250)
    await q.addBulk(
      Array.from({ length: 250 }, (_, k) => ({
        name: "t",
        data: { i: i + k },
        opts: { jobId: `j${i + k}`, priority: 5, removeOnComplete: true },
      })),
    );
  const added = performance.now() - t0;
  let done = 0;
  const t1 = performance.now();
  await new Promise<void>((res) => {
    const worker = w(() => {
      if (++done === N) res();
    });
    (q as unknown as { _w: Worker })._w = worker;
  });
  const processed = performance.now() - t1;
  console.log(
    JSON.stringify({
      label,
      jobs: N,
      addPerSecond: Math.round(N / (added / 1000)),
      processPerSecond: Math.round(N / (processed / 1000)),
    }),
  );
  await (q as unknown as { _w: Worker })._w.close();
  await q.obliterate({ force: true }).catch(() => {});
  await q.close();
}

import pg from "pg";

const pgUrl = process.env.BENCH_QUEUE_PG_URL;
if (!pgUrl) throw new Error("set BENCH_QUEUE_PG_URL to an empty database");
// a pool built here must carry the backend's schema on its search path
const url = new pg.Pool({ connectionString: pgUrl, max: 8, options: "-c search_path=bullmq,public" });
await runMigrations?.(url as never).catch((e: Error) => console.log("runMigrations:", e.message));
await run("redis", () => {
  const c = new Redis({ maxRetriesPerRequest: null });
  const q = new Queue("bench", { connection: c, prefix: "psrecbullpg" });
  return {
    q,
    w: (fn) =>
      new Worker("bench", async () => fn(), {
        connection: new Redis({ maxRetriesPerRequest: null }),
        prefix: "psrecbullpg",
        concurrency: 4,
      }),
  };
});
await run("postgres", () => {
  const q = new Queue("bench", { connection: url } as never, createPostgresBackend as never);
  return {
    q,
    w: (fn) =>
      new Worker(
        "bench",
        async () => fn(),
        { connection: url, concurrency: 4 } as never,
        createPostgresBackend as never,
      ),
  };
});
process.exit(0);
