// A real HTTP server for the dashboard browser test: serves apps/web/dist at / and the API routes the
// dashboard reads under /v1, from a synthetic finished sweep. The fit is computed by packages/fit's
// real functions on those rows (never hand-written fit numbers).

import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";

export interface FixtureTrial {
  id: string;
  model: string;
  tokens: number;
  batchSize: number;
  /** null on power-grid trials (they have powerA/powerB). */
  lr: number | null;
  powerA: number | null;
  powerB: number | null;
  seed: number;
  status: "succeeded" | "diverged" | "failed";
  testLoss: number | null;
  testPerplexity: number | null;
}

export interface Fixture {
  sweep: {
    id: string;
    name: string;
    kind: string;
    status: string;
    trialCount: number;
    createdAt: string;
    tags: string[];
    spec: unknown;
  };
  trials: FixtureTrial[];
  fit: unknown;
  workers: unknown[];
  /** Dense curves (docs/trial-curves.md) served on the trial detail as `curve`, by trial id. */
  curves?: Record<string, unknown>;
}

export const TOKENS = [2e9, 8e9, 3.2e10, 1.28e11];
export const BATCH_SIZES = [32, 64, 128, 256];
export const LR_GRID = Array.from({ length: 8 }, (_, k) => 2e-4 * 2 ** k); // 0.0002 … 0.0256, as in the paper's figures

/** A deterministic pseudo-random in [0, 1) so the fixture (and its fit) is the same every run. */
function hash01(...xs: number[]): number {
  let h = 2166136261;
  for (const x of xs) {
    h ^= Math.floor(x * 1e6) % 2147483647;
    h = Math.imul(h, 16777619) >>> 0;
  }
  return (h % 10000) / 10000;
}

/**
 * Test loss as a parabola in ln η around η_opt = β·a·T^b (eq. 6 with the paper's a=4.6, b=−0.51),
 * with a floor that falls with T and a little noise. The highest η at the smallest β diverges.
 */
export function syntheticTrials(model = "36M"): FixtureTrial[] {
  const out: FixtureTrial[] = [];
  let i = 0;
  for (const tokens of TOKENS)
    for (const batchSize of BATCH_SIZES)
      for (const lr of LR_GRID) {
        const etaOpt = batchSize * 4.6 * tokens ** -0.51;
        const diverged = batchSize === 32 && lr === LR_GRID[LR_GRID.length - 1];
        const loss =
          2.6 + 8 * tokens ** -0.1 + 0.08 * Math.log(lr / etaOpt) ** 2 + 0.03 * (hash01(tokens, batchSize, lr) - 0.5);
        out.push({
          id: `trial-${String(++i).padStart(3, "0")}`,
          model,
          tokens,
          batchSize,
          lr,
          powerA: null,
          powerB: null,
          seed: 0,
          status: diverged ? "diverged" : "succeeded",
          testLoss: diverged ? null : loss,
          testPerplexity: diverged ? null : Math.exp(loss),
        });
      }
  return out;
}

/** Training metrics for one trial: WSD lr (eq. 2, 10% decay) and a decaying loss, eval every 10th step. */
export function syntheticMetrics(t: FixtureTrial, steps = 60) {
  const total = t.tokens;
  return Array.from({ length: steps }, (_, s) => {
    const tokens = ((s + 1) / steps) * total;
    const frac = (s + 1) / steps;
    const peak = t.lr ?? 0.01;
    const lr = frac < 0.05 ? (peak * frac) / 0.05 : frac > 0.9 ? (peak * (1 - frac)) / 0.1 : peak;
    const trainLoss = (t.testLoss ?? 4) + 3 / Math.sqrt(s + 1) + 0.02 * (hash01(s, peak) - 0.5);
    return { step: s + 1, tokens, lr, trainLoss, evalLoss: (s + 1) % 10 === 0 ? trainLoss + 0.03 : null };
  });
}

function counts(trials: FixtureTrial[]) {
  const c = { queued: 0, running: 0, succeeded: 0, failed: 0, diverged: 0, cancelled: 0 };
  for (const t of trials) c[t.status]++;
  return c;
}

const TYPES: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".css": "text/css",
  ".map": "application/json",
};

/** Start the server on a free port; requests to /v1 need `Authorization: Bearer <token>`. */
export async function startFixtureServer(
  distDir: string,
  fixture: Fixture,
  token: string,
): Promise<{ url: string; server: Server; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": status >= 400 ? "application/problem+json" : "application/json" });
      res.end(JSON.stringify(body));
    };
    if (url.pathname.startsWith("/v1/")) {
      requests.push(`${req.method} ${url.pathname}${url.search}`);
      if (req.headers.authorization !== `Bearer ${token}`)
        return send(401, { title: "Unauthorized", status: 401, detail: "missing or bad bearer token" });
      const { sweep, trials } = fixture;
      const p = url.pathname.split("/").filter(Boolean); // ["v1", ...]
      if (p[1] === "sweeps" && p.length === 2)
        return send(200, { items: [{ ...sweep, counts: counts(trials) }], total: 1, limit: 50, offset: 0 });
      if (p[1] === "sweeps" && p[2] !== sweep.id) return send(404, { title: "Not Found", status: 404 });
      if (p[1] === "sweeps" && p.length === 3) return send(200, { ...sweep, counts: counts(trials) });
      if (p[1] === "sweeps" && p[3] === "trials") {
        // limit/offset paging like apps/api, with a small page so the dashboard's paging loop is exercised.
        const limit = Math.min(Number(url.searchParams.get("limit") ?? 100), 50);
        const offset = Number(url.searchParams.get("offset") ?? 0);
        return send(200, { items: trials.slice(offset, offset + limit), total: trials.length, limit, offset });
      }
      if (p[1] === "sweeps" && p[3] === "fit")
        return fixture.fit ? send(200, fixture.fit) : send(404, { title: "No fit yet", status: 404 });
      if (p[1] === "trials" && p[2]) {
        const t = trials.find((x) => x.id === p[2]);
        if (!t) return send(404, { title: "Not Found", status: 404 });
        // attempt 1 crashed midway and attempt 2 is the recorded one: the dashboard must show only attempt 2
        const metrics = [
          ...syntheticMetrics(t, 25).map((m) => ({ ...m, attempt: 1, trainLoss: m.trainLoss + 1 })),
          ...syntheticMetrics(t).map((m) => ({ ...m, attempt: 2 })),
        ];
        return send(200, { ...t, sweepId: sweep.id, resultAttempt: 2, metrics, curve: fixture.curves?.[t.id] ?? null });
      }
      if (p[1] === "workers") return send(200, { workers: fixture.workers }); // apps/api's shape
      return send(404, { title: "Not Found", status: 404 });
    }
    const rel = url.pathname === "/" ? "index.html" : normalize(url.pathname).replace(/^[/\\]+/, "");
    if (rel.includes("..")) return send(400, { title: "Bad path" });
    try {
      const body = await readFile(join(distDir, rel));
      res.writeHead(200, { "content-type": TYPES[extname(rel)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      send(404, { title: "Not Found", status: 404 });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server, requests };
}
