// A real server on real Postgres and Redis (this run's isolated database, a unique key prefix).
import { createDb } from "@powersweep/db";
import { createApiToken } from "@powersweep/orchestrator";
import { createRedis, createTrialQueue } from "@powersweep/queue";
import type { PowersweepConfig } from "@powersweep/runtime";
import { testConfig, uniquePrefix } from "../../../test/env.ts";
import { buildServer } from "../src/index.ts";

export async function startTestApi(label: string, overrides: Partial<PowersweepConfig> = {}) {
  const config = testConfig({ redisPrefix: uniquePrefix(label), ...overrides });
  const db = createDb({ url: config.databaseUrl, max: 5 });
  const redis = createRedis({ url: config.redisUrl });
  const trialQueue = createTrialQueue(redis, config.redisPrefix);
  const app = buildServer({ db, redis, trialQueue, config, auth: true, strictResponses: true });
  await app.ready();
  const suffix = Math.random().toString(36).slice(2, 8);
  const submitName = `${label}-submit-${suffix}`;
  const submit = (await createApiToken(db, { name: submitName, scopes: ["submit"] })).token;
  const read = (await createApiToken(db, { name: `${label}-read-${suffix}`, scopes: ["read"] })).token;
  const admin = (await createApiToken(db, { name: `${label}-admin-${suffix}`, scopes: ["admin"] })).token;
  return {
    app,
    db,
    redis,
    trialQueue,
    config,
    /** Sweeps created with the submit token carry this owner. */
    owner: submitName,
    tokens: { submit, read, admin },
    auth: (token = submit) => ({ authorization: `Bearer ${token}` }),
    async close() {
      await app.close();
      await trialQueue.obliterate({ force: true }).catch(() => {});
      await trialQueue.close();
      redis.disconnect();
      await db.$disconnect();
    },
  };
}

export type TestApi = Awaited<ReturnType<typeof startTestApi>>;

export const tinyModel = (name = "d32", dModel = 32) => ({
  name,
  dModel,
  nLayers: 2,
  nHeads: dModel / 16,
  dHead: 16,
  mlpHidden: dModel * 4,
  baseWidth: 32,
});

export function lrGrid(overrides: Record<string, unknown> = {}) {
  return {
    kind: "lr-grid",
    name: "lr grid",
    axes: {
      models: [tinyModel()],
      tokens: [1e5, 2e5],
      batchSize: [8, 16],
      lr: [1e-3, 3e-3, 1e-2],
    },
    ...overrides,
  };
}
