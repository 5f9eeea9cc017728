// Browser test of a power-grid sweep (the Power scheduler's a × b): the sweep page draws the loss
// surface over (a, b) per T and lists a and b in the trial table (no "No finished trials" for a
// sweep whose trials all succeeded), and a trial's page draws its dense curve (≥ 100 points, the
// schedule's real shape). The fit comes from packages/fit on the rows, the curves from the trainers'
// own point rule (curveSteps/evalSteps) and schedule.

import { mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fitSweep } from "@powersweep/fit";
import { createSchedule } from "@powersweep/schedules";
import type { ScheduleSpec } from "@powersweep/spec";
import { curveSteps, decayStartStep, evalSteps, type TrialCurve } from "@powersweep/trainer";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error build.mjs is plain JS (no types); it exports build()
import { build } from "../build.mjs";
import { CHROMIUM, haveChromium, launchChromium } from "./browser.ts";
import { type Fixture, type FixtureTrial, startFixtureServer } from "./fixture-server.ts";

const TOKEN = "test-token-power";
if (!haveChromium) console.warn(`power-grid.test.ts skipped: ${CHROMIUM} is absent (apt-get install -y chromium)`);

const AS = [0.25, 0.5, 1];
const BS = [-0.6, -0.51, -0.4];
const TOKENS = [40_000, 80_000];
const BATCH = [4, 8];
const SEQ = 64;

const schedule = (powerA: number, powerB: number): ScheduleSpec => ({
  type: "power",
  powerA,
  powerB,
  etaMax: 0.08,
  warmupTokens: 2000,
  decayFraction: 0.1,
  decayShape: "exponential",
});

function powerTrials(): FixtureTrial[] {
  const out: FixtureTrial[] = [];
  let i = 0;
  for (const powerA of AS)
    for (const powerB of BS)
      for (const tokens of TOKENS)
        for (const batchSize of BATCH)
          for (const seed of [0, 1]) {
            const loss = 2.3 + 4e4 / tokens / 10 + 8 * (powerB + 0.51) ** 2 + 0.05 * (powerA - 0.5) ** 2 + 0.004 * seed;
            out.push({
              id: `p-${String(++i).padStart(3, "0")}`,
              model: "d32-L2",
              tokens,
              batchSize,
              lr: null,
              powerA,
              powerB,
              seed,
              status: "succeeded",
              testLoss: loss,
              testPerplexity: Math.exp(loss),
            });
          }
  return out;
}

/** The curve a trainer records for this trial: its steps, its schedule's lr, a falling loss. */
function curveFor(t: FixtureTrial): TrialCurve {
  const spec = schedule(t.powerA as number, t.powerB as number);
  const tokensPerStep = t.batchSize * SEQ;
  const steps = Math.ceil(t.tokens / tokensPerStep);
  const lr = createSchedule(spec, { totalTokens: t.tokens, batchSize: t.batchSize });
  const loss = (s: number) => (t.testLoss as number) + 3 / Math.sqrt(s);
  const step = curveSteps(steps);
  const ev = evalSteps(steps, decayStartStep(spec, t.tokens, tokensPerStep));
  return {
    step,
    tokens: step.map((s) => s * tokensPerStep),
    lr: step.map((s) => lr((s - 1) * tokensPerStep)),
    trainLoss: step.map(loss),
    eval: { step: ev, tokens: ev.map((s) => s * tokensPerStep), loss: ev.map((s) => loss(s) + 0.05), targets: 4096 },
  };
}

describe.skipIf(!haveChromium)("power-grid sweep in Chromium", () => {
  let closeBrowser: (() => Promise<void>) | undefined;
  let page: Page;
  let server: Server;
  let baseUrl: string;
  let fixture: Fixture;
  let dist: string | undefined;

  beforeAll(async () => {
    dist = await build({ outdir: await mkdtemp(join(tmpdir(), "powersweep-web-power-")), minify: false });
    const trials = powerTrials();
    fixture = {
      sweep: {
        id: "sw-power",
        name: "power a×b, tiny proxy",
        kind: "power-grid",
        status: "completed",
        trialCount: trials.length,
        createdAt: "2026-12-04T16:00:00.000Z",
        tags: [],
        spec: null,
      },
      trials,
      fit: JSON.parse(JSON.stringify(fitSweep(trials))),
      workers: [],
      curves: Object.fromEntries(trials.map((t) => [t.id, curveFor(t)])),
    };
    ({ url: baseUrl, server } = await startFixtureServer(dist as string, fixture, TOKEN));
    ({ page, close: closeBrowser } = await launchChromium());
    await page.goto(`${baseUrl}/#token=${TOKEN}`);
    await page.waitForSelector("tr.sweep-row");
  }, 120_000);

  afterAll(async () => {
    await closeBrowser?.();
    await new Promise((r) => server?.close(r));
    if (dist) await rm(dist, { recursive: true, force: true });
  });

  it("draws the loss surface over (a, b) per T, and the trial table has a and b columns", async () => {
    await page.goto(`${baseUrl}/#/sweeps/sw-power`);
    await page.waitForSelector("#surface svg rect.cell");
    expect(await page.locator("#surface g.panel").count()).toBe(TOKENS.length);
    expect(await page.locator("#surface rect.cell").count()).toBe(TOKENS.length * AS.length * BS.length);
    // every cell has a finished loss; the best of each panel is b = −0.51 at a = 0.5
    expect(await page.locator("#surface rect.cell[data-loss]").count()).toBe(TOKENS.length * AS.length * BS.length);
    for (const i of [0, 1]) {
      const best = page.locator("#surface rect.cell.best").nth(i);
      expect([await best.getAttribute("data-a"), await best.getAttribute("data-b")]).toEqual(["0.5", "-0.51"]);
    }
    const main = (await page.locator("main").textContent()) ?? "";
    expect(main).not.toContain("No finished trials");
    const heads = await page.locator("#main table.clickable thead th").allTextContents();
    expect(heads).toEqual(["T", "β", "a", "b", "status", "run", "test loss", "ppl"]);
    expect(await page.locator("td.power-a").count()).toBe(fixture.trials.length);
    expect(await page.locator("td.power-b").first().textContent()).toBe("-0.6");
    await page.screenshot({ path: "test-artifacts/dashboard-power-grid.png", fullPage: true });
  });

  it("a trial's page draws its dense curve: ≥ 100 train points, the held-out points, the schedule's shape", async () => {
    // a = 0.5, b = −0.51 at T = 80k, β = 8: 157 steps, out of the clamp after ~3% of the run
    const t = fixture.trials.find(
      (x) => x.powerA === 0.5 && x.powerB === -0.51 && x.tokens === 80_000 && x.batchSize === 8 && x.seed === 0,
    ) as FixtureTrial;
    const id = t.id;
    const row = page.locator(`tr.trial-row[data-trial="${id}"]`);
    await row.click();
    await page.waitForSelector("#curve svg path.line");
    const curve = fixture.curves?.[id] as TrialCurve;
    expect(curve.step.length).toBeGreaterThanOrEqual(100);
    expect(await page.locator("#curve .two").getAttribute("data-curve-points")).toBe(String(curve.step.length));
    // train loss and lr, each one line through every recorded point
    expect(await page.locator(`#curve path.line[data-points="${curve.step.length}"]`).count()).toBe(2);
    expect(await page.locator("#curve circle.pt").count()).toBe(curve.eval.step.length);
    expect(curve.eval.step.length).toBeGreaterThanOrEqual(5);
    // the lr drawn is the Power schedule: warmup, the clamp, the n^b fall, the decay to ~0 — not a triangle
    const lrs = curve.lr;
    expect(Math.max(...lrs)).toBeLessThanOrEqual(0.08);
    expect(new Set(lrs.map((x) => x.toPrecision(3))).size).toBeGreaterThan(50);
    const peak = lrs.indexOf(Math.max(...lrs));
    expect(lrs.slice(peak).every((x, i, xs) => i === 0 || x <= (xs[i - 1] as number))).toBe(true);
    expect(lrs.at(-1) as number).toBeLessThan(0.05 * Math.max(...lrs));
    await page.screenshot({ path: "test-artifacts/dashboard-power-curve.png", fullPage: true });
  });
});
