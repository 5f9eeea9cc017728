// The built dashboard against the REAL API (apps/api buildServer, Postgres, Redis): a finished sweep is
// submitted through POST /v1/sweeps as an `import`, with a bearer token created in the database; the
// API serves apps/web/dist at /. A stored fit (packages/fit's fitSweep on the same rows) is written to
// the Fit table; whether it shows depends on GET /v1/sweeps/:id/fit, which the fitting engineer adds.

import { mkdir } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { buildServer } from "@powersweep/api";
import { createDb, type Db } from "@powersweep/db";
import { fitSweep } from "@powersweep/fit";
import { createApiToken } from "@powersweep/orchestrator";
import { createRedis, createTrialQueue } from "@powersweep/queue";
import type { FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testConfig, uniquePrefix } from "../../../test/env.ts";
// @ts-expect-error build.mjs is plain JS (no types); it exports build()
import { build } from "../build.mjs";
import { CHROMIUM, haveChromium, launchChromium } from "./browser.ts";
import { syntheticTrials } from "./fixture-server.ts";

if (!haveChromium) console.warn(`dashboard-api.test.ts skipped: ${CHROMIUM} is absent (apt-get install -y chromium)`);

describe.skipIf(!haveChromium)("dashboard on the real API", () => {
  let app: FastifyInstance;
  let db: Db;
  let redis: Redis;
  let queue: ReturnType<typeof createTrialQueue>;
  let page: Page;
  let closeBrowser: (() => Promise<void>) | undefined;
  let baseUrl: string;
  let sweepId: string;
  const rows = syntheticTrials("36M")
    .filter((t) => t.status === "succeeded")
    .map((t) => ({
      model: t.model,
      tokens: t.tokens,
      batchSize: t.batchSize,
      lr: t.lr,
      testLoss: t.testLoss as number,
    }));

  beforeAll(async () => {
    await build({ minify: false }); // before buildServer: it serves apps/web/dist only if it exists
    const config = { ...testConfig(), redisPrefix: uniquePrefix("web") };
    db = createDb({ url: config.databaseUrl });
    redis = createRedis({ url: config.redisUrl });
    queue = createTrialQueue(redis, config.redisPrefix);
    app = buildServer({ db, redis, trialQueue: queue, config, logger: false, auth: true });
    await app.listen({ host: "127.0.0.1", port: 0 });
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    const { token } = await createApiToken(db, { name: `web-test-${Date.now()}`, scopes: ["read", "submit"] });
    const res = await fetch(`${baseUrl}/v1/sweeps`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ kind: "import", name: "imported fig2-4", rows }),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    sweepId = ((await res.json()) as { id: string }).id;
    const fit = JSON.parse(JSON.stringify(fitSweep(rows, { etaBootstrap: 50, lawBootstrap: 200 })));
    await db.fit.create({ data: { sweepId, inputHash: "web-test", inputs: { rows: rows.length }, result: fit } });

    ({ page, close: closeBrowser } = await launchChromium());
    await page.goto(`${baseUrl}/#token=${encodeURIComponent(token)}`);
  });

  afterAll(async () => {
    await closeBrowser?.();
    await app?.close();
    await queue?.close();
    redis?.disconnect();
    await db?.$disconnect();
  });

  it("serves the dashboard at / and lists the imported sweep as done", async () => {
    const row = page.locator(`tr.sweep-row[data-id="${sweepId}"]`);
    await row.waitFor();
    expect(await row.locator(".progress").getAttribute("data-done")).toBe(String(rows.length));
  });

  it("draws Fig. 2 and Fig. 3 from the API's trials, and Fig. 4d once the API serves the stored fit", async () => {
    await page.goto(`${baseUrl}/#/sweeps/${sweepId}`);
    await page.waitForSelector("#fig2 circle.pt");
    const beta = Math.max(...rows.map((r) => r.batchSize));
    const tokens = Math.max(...rows.map((r) => r.tokens));
    await expect
      .poll(() => page.locator("#fig2 circle.pt").count())
      .toBe(rows.filter((r) => r.batchSize === beta).length);
    expect(await page.locator("#fig3 circle.pt").count()).toBe(rows.filter((r) => r.tokens === tokens).length);
    expect(await page.locator("tr.trial-row").count()).toBe(rows.length);

    const fitRes = await page.evaluate(async (id) => {
      const r = await fetch(`/v1/sweeps/${id}/fit`, {
        headers: { authorization: `Bearer ${localStorage.getItem("powersweep.token")}` },
      });
      return r.status;
    }, sweepId);
    if (fitRes === 200) {
      await page.waitForSelector("#fig4 circle.pt");
      expect(await page.locator("#fig4 path.band").count()).toBe(1);
    } else {
      // GET /v1/sweeps/:id/fit not there yet: the page says so instead of failing
      expect(fitRes).toBe(404);
      expect(await page.locator("#fig4").textContent()).toContain("No fit yet");
    }
    await mkdir("test-artifacts", { recursive: true });
    await page.screenshot({ path: "test-artifacts/dashboard-sweep-real-api.png" });
  });

  it("opens a trial from the real GET /v1/trials/:id", async () => {
    const row = page.locator("tr.trial-row").first();
    await row.click();
    await page.waitForSelector("#curve h2");
    // imported trials carry no metrics: the curve viewer says so rather than drawing nothing
    await expect.poll(() => page.locator("#curve .empty-msg").count()).toBeGreaterThan(0);
  });
});
