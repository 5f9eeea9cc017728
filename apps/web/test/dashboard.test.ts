// Browser test of the built dashboard: Debian's Chromium driven by playwright-core against a real HTTP
// server (fixture-server.ts) that serves apps/web/dist and the /v1 routes with a synthetic finished sweep
// whose fit comes from packages/fit's real functions.

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SweepFit } from "@powersweep/fit";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error build.mjs is plain JS (no types); it exports build()
import { build } from "../build.mjs";
import { CHROMIUM, haveChromium, launchChromium } from "./browser.ts";
import { computeFixtureFit } from "./fixture-fit.ts";
import { type Fixture, startFixtureServer, syntheticTrials } from "./fixture-server.ts";

const TOKEN = "test-token-123";
if (!haveChromium) console.warn(`dashboard.test.ts skipped: ${CHROMIUM} is absent (apt-get install -y chromium)`);

describe.skipIf(!haveChromium)("dashboard in Chromium", () => {
  let closeBrowser: (() => Promise<void>) | undefined;
  let page: Page;
  let server: Server;
  let baseUrl: string;
  let requests: string[];
  let fixture: Fixture;
  let dist: string | undefined;

  beforeAll(async () => {
    // Its own output folder, so a parallel test building apps/web/dist never serves a half-written file here.
    const built: string = await build({ outdir: await mkdtemp(join(tmpdir(), "powersweep-web-")), minify: false });
    dist = built;
    const trials = syntheticTrials();
    fixture = {
      sweep: {
        id: "sw-fixture",
        name: "power-scheduler fig2-4 (synthetic)",
        kind: "import",
        status: "completed",
        trialCount: trials.length,
        createdAt: "2026-11-22T07:00:00.000Z",
        tags: ["fixture"],
        spec: null,
      },
      trials,
      fit: computeFixtureFit(trials),
      // the shape apps/api's GET /v1/workers returns (WorkerViewSchema)
      workers: [
        {
          id: "w-1",
          host: "gpu-a",
          pid: 11,
          devices: ["0"],
          backend: "torch",
          version: "0.1.0",
          state: "busy",
          currentTrialId: "trial-007",
          tokensPerSecond: 45582,
          startedAt: new Date().toISOString(),
          lastHeartbeatAt: new Date().toISOString(),
          silentSeconds: 1,
        },
        {
          id: "w-2",
          host: "cpu-b",
          pid: 12,
          devices: ["cpu:0"],
          backend: "tfjs",
          version: "0.1.0",
          state: "lost",
          currentTrialId: null,
          tokensPerSecond: null,
          startedAt: new Date().toISOString(),
          lastHeartbeatAt: new Date(Date.now() - 600_000).toISOString(),
          silentSeconds: 600,
        },
      ],
    };
    ({ url: baseUrl, server, requests } = await startFixtureServer(built, fixture, TOKEN));
    ({ page, close: closeBrowser } = await launchChromium());
  });

  afterAll(async () => {
    await closeBrowser?.();
    await new Promise((r) => server?.close(r));
    if (dist) await rm(dist, { recursive: true, force: true });
  });

  it("accepts #token= once, sends it as a bearer token, and lists the sweep with its progress", async () => {
    await page.goto(`${baseUrl}/#token=${TOKEN}`);
    await page.waitForSelector("tr.sweep-row");
    expect(page.url()).not.toContain(TOKEN); // the token is taken out of the address bar
    expect(await page.evaluate(() => localStorage.getItem("powersweep.token"))).toBe(TOKEN);
    const bar = page.locator("tr.sweep-row .progress");
    const done = fixture.trials.length; // every fixture trial is terminal (succeeded or diverged)
    expect(await bar.getAttribute("data-done")).toBe(String(done));
    expect(await page.locator("tr.sweep-row .counts").textContent()).toContain(`${done}/${fixture.trials.length} done`);
  });

  it("renders Fig. 2, Fig. 3 and Fig. 4d with one point per finished trial / γ row, and the η_opt table", async () => {
    await page.goto(`${baseUrl}/#/sweeps/sw-fixture`);
    await page.waitForSelector("#fig4 svg circle.pt");
    // The dashboard picks the most frequent β / T as the default slice (ties → the larger value).
    const beta = Math.max(...fixture.trials.map((t) => t.batchSize));
    const tokens = Math.max(...fixture.trials.map((t) => t.tokens));
    const finished = fixture.trials.filter((t) => t.status === "succeeded" && t.testLoss != null);
    const fig2Expected = finished.filter((t) => t.batchSize === beta).length;
    const fig3Expected = finished.filter((t) => t.tokens === tokens).length;
    expect(await page.locator("#fig2 circle.pt").count()).toBe(fig2Expected);
    expect(await page.locator("#fig3 circle.pt").count()).toBe(fig3Expected);
    // one series per T in Fig. 2 and per β in Fig. 3, each with the fitted η_opt star
    expect(await page.locator("#fig2 .legend-item").count()).toBe(new Set(fixture.trials.map((t) => t.tokens)).size);
    expect(await page.locator("#fig3 .legend-item").count()).toBe(new Set(fixture.trials.map((t) => t.batchSize)).size);

    const fit = fixture.fit as SweepFit;
    expect(fit.law.pooled).not.toBeNull();
    expect(await page.locator("#fig4 circle.pt").count()).toBe(fit.gamma.length);
    expect(await page.locator("#fig4 path.band").count()).toBe(1);
    const fig4 = await page.locator("#fig4 svg").innerHTML();
    expect(fig4).toContain(`a=${Number(fit.law.pooled!.a.toPrecision(3))}`);
    expect(fig4).toContain(`b=${Number(fit.law.pooled!.b.toPrecision(3))}`);
    expect(fig4).toContain("R² = ");
    expect(await page.locator("#etaopt tbody tr").count()).toBe(fit.etaOpt.length);
    expect(await page.locator("#etaopt tbody tr.edge").count()).toBe(fit.etaOpt.filter((e) => e.onEdge).length);
    // B_opt(T) per token budget from the fit's batchSizeLaw table
    expect(await page.locator("#bopt circle.pt").count()).toBe(fit.batchSizeLaw.table.length);
    // every fitted cell of the Fig. 2 / Fig. 3 slices gets its η_opt star
    const starsFig2 = fit.etaOpt.filter((e) => e.batchSize === beta).length;
    expect(await page.locator("#fig2 path.opt").count()).toBe(starsFig2);
    expect(requests.some((r) => r.includes("/trials?") && r.includes("offset=100"))).toBe(true); // paged through all trials

    await mkdir("test-artifacts", { recursive: true });
    await page.screenshot({ path: "test-artifacts/dashboard-sweep.png", fullPage: false });
  });

  it("changing the β selector redraws Fig. 2 for that batch size", async () => {
    const beta = Math.min(...fixture.trials.map((t) => t.batchSize));
    await page.selectOption('select[data-sel="batchSize"]', String(beta));
    const expected = fixture.trials.filter((t) => t.batchSize === beta && t.status === "succeeded").length;
    await expect.poll(() => page.locator("#fig2 circle.pt").count()).toBe(expected);
    expect(await page.locator("#fig2 svg").innerHTML()).toContain(`β=${beta}`);
  });

  it("shows a trial's loss and lr curves when its row is clicked", async () => {
    const row = page.locator("tr.trial-row").first();
    const id = await row.getAttribute("data-trial");
    await row.click();
    await page.waitForSelector("#curve svg path.line");
    expect(requests).toContain(`GET /v1/trials/${id}`);
    // the recorded attempt (2) has 60 steps with eval loss every 10th; attempt 1's 25 steps are not drawn
    expect(await page.locator("#curve circle.pt").count()).toBe(6);
    expect(await page.locator('#curve path.line[data-points="60"]').count()).toBeGreaterThanOrEqual(2); // train loss + lr
    await page.screenshot({ path: "test-artifacts/dashboard-curve.png", fullPage: true });
  });

  it("lists workers on the fleet page", async () => {
    await page.goto(`${baseUrl}/#/fleet`);
    await page.waitForSelector("tr.worker-row");
    expect(await page.locator("tr.worker-row").count()).toBe(fixture.workers.length);
    const text = await page.locator("main").textContent();
    expect(text).toContain("45,582");
    expect(await page.locator("tr.worker-row .status.lost").count()).toBe(1);
    expect(text).toMatch(/6\d\ds ago/); // the lost worker's heartbeat age (600 s when the fixture was made)
  });

  it("says so when the token is refused", async () => {
    await page.evaluate(() => localStorage.setItem("powersweep.token", "wrong"));
    await page.goto(`${baseUrl}/#/`);
    await page.reload();
    await page.waitForSelector("p.error");
    expect(await page.locator("p.error").textContent()).toContain("Not authorised (401)");
  });
});
