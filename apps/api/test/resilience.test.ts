// Property-based fuzz of every route's params, query and body against the real API (Postgres,
// Redis, strict response serialisation): never a 5xx, every 4xx is problem+json naming the field,
// and a refused request writes nothing (sweeps, trials and fits counted before and after).
// `npm run test:resilience` runs the full set (RESILIENCE_FULL=1, ≥ 2,000 cases); the normal
// suite runs a reduced one.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { lrGrid, startTestApi, type TestApi, tinyModel } from "./helpers.ts";

const FULL = process.env.RESILIENCE_FULL === "1";
/** Cases per route: 15 routes × 140 = 2,100 in the full run, × 14 = 210 in the normal suite. */
const RUNS = FULL ? 140 : 14;

let api: TestApi;
let sweepId: string;
let trialId: string;
let importId: string;
beforeAll(async () => {
  api = await startTestApi("resilience", { maxTrialsPerSweep: 200, maxTokensPerTrial: 1e12 });
  const post = async (doc: unknown) => {
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/sweeps",
      headers: { ...api.auth(), "content-type": "application/json" },
      payload: JSON.stringify(doc),
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().id as string;
  };
  sweepId = await post(lrGrid({ name: "fuzz target" }));
  importId = await post({
    kind: "import",
    name: "fuzz import",
    rows: [1e5, 2e5, 4e5].flatMap((tokens) =>
      [1e-3, 3e-3, 1e-2, 3e-2].map((lr) => ({
        model: "d32",
        tokens,
        batchSize: 8,
        lr,
        testLoss: 3 + Math.abs(Math.log(lr / 3e-3)),
      })),
    ),
  });
  const t = await api.db.trial.findFirst({ where: { sweepId }, select: { id: true } });
  trialId = t!.id;
}, 60_000);
afterAll(() => api.close());

// ---------- hostile values

const hostileNumberText = fc.constantFrom(
  "1e20",
  "1e400",
  "-1e400",
  "Infinity",
  "-Infinity",
  "NaN",
  "-1",
  "0",
  "2147483648",
  "9007199254740993",
  "0x10",
  "1.5",
  "",
  " ",
  "true",
  "[]",
);
const hostileText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.constantFrom(
    "\u0000",
    "a\u0000b",
    "\ud800",
    "x\udfff",
    "%00",
    "' OR 1=1 --",
    "=cmd|' /C calc'!A0",
    "../../etc/passwd",
    "𝔘𝔫𝔦",
  ),
);
const hostileNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(2 ** 31, 2 ** 53 + 1, 1e20, 1e308, -1e308, 5e-324, -0, 0, -1),
);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileNumber,
  hostileText,
  fc.constant(null),
  fc.boolean(),
  fc.array(hostileNumber, { maxLength: 3 }),
  fc.dictionary(hostileText, hostileNumber, { maxKeys: 2 }),
);
const queryValue = fc.oneof(hostileNumberText, hostileText, fc.integer().map(String), fc.double().map(String));
const idValue = fc.oneof(
  fc.constant("__sweep__"),
  fc.constant("__trial__"),
  fc.constant("__import__"),
  fc.uuid(),
  hostileText,
  fc.constantFrom("00000000-0000-0000-0000-000000000000", "not-a-uuid", "%00", "..%2F..%2Fetc"),
);

function resolveId(v: string): string {
  if (v === "__sweep__") return sweepId;
  if (v === "__trial__") return trialId;
  if (v === "__import__") return importId;
  try {
    return encodeURIComponent(v);
  } catch {
    // a lone surrogate cannot be encoded: send the UTF-8 bytes it would have (invalid UTF-8)
    return `${encodeURIComponent(v.replace(/[\ud800-\udfff]/g, ""))}%ED%A0%80`;
  }
}

/** A query string from known keys (hostile values) and the odd unknown key. */
function queryOf(keys: string[]) {
  return fc
    .dictionary(keys.length ? fc.oneof(fc.constantFrom(...keys), hostileText) : hostileText, queryValue, { maxKeys: 4 })
    .map((q) => {
      const p = new URLSearchParams();
      for (const [k, v] of Object.entries(q)) p.append(k, v);
      const s = p.toString();
      return s ? `?${s}` : "";
    });
}

/** Sets `value` at a random path of a JSON value (an existing key or a new one). */
function mutate(doc: unknown, path: number[], value: unknown): unknown {
  if (path.length === 0 || doc === null || typeof doc !== "object") return value;
  const [head, ...rest] = path as [number, ...number[]];
  if (Array.isArray(doc)) {
    const copy = doc.slice();
    const i = head % (copy.length + 1);
    copy[i] = mutate(copy[i], rest, value);
    return copy;
  }
  const o = { ...(doc as Record<string, unknown>) };
  const keys = Object.keys(o);
  const key = head % (keys.length + 1) === keys.length ? `extra${head}` : keys[head % (keys.length + 1)]!;
  o[key] = mutate(o[key], rest, value);
  return o;
}

const mutated = (base: unknown) =>
  fc
    .tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 5 }), hostileValue)
    .map(([path, value]) => mutate(base, path, value));

const powerGrid = {
  kind: "power-grid",
  name: "power",
  axes: { models: [tinyModel()], powerA: [2, 4], powerB: [-0.5], tokens: [1e5], batchSize: [8] },
  schedule: { etaMax: 0.02 },
};
const importDoc = {
  kind: "import",
  name: "imp",
  rows: [{ model: "m", tokens: 1e6, batchSize: 8, lr: 1e-3, testLoss: 3 }],
};

const sweepBody = fc.oneof(
  fc.oneof(mutated(lrGrid()), mutated(powerGrid), mutated(importDoc)).map((d) => ({
    type: "application/json",
    body: JSON.stringify(d),
  })),
  fc.jsonValue().map((d) => ({ type: "application/json", body: JSON.stringify(d) })),
  fc.tuple(hostileText, hostileText).map(([a, b]) => ({
    type: "application/yaml",
    body: `kind: lr-grid\nname: ${a}\naxes:\n  models: [${b}]\n  tokens: [1e5]\n  batchSize: [8]\n  lr: [0.001]\n`,
  })),
  fc.tuple(hostileText, fc.oneof(hostileNumberText, hostileText)).map(([model, n]) => ({
    type: "text/csv",
    body: `model,tokens,batchSize,lr,testLoss\n${model},1e6,${n},0.001,3\n`,
  })),
  fc
    .tuple(
      fc.string({ unit: "binary", maxLength: 40 }),
      fc.constantFrom("application/json", "text/plain", "application/yaml", "text/csv", "application/xml"),
    )
    .map(([body, type]) => ({ type, body })),
);

const extendBody = fc.oneof(
  mutated({ lr: [2e-2] }).map((d) => ({ type: "application/json", body: JSON.stringify(d) })),
  mutated({ batchSize: { geometric: { from: 8, factor: 2, count: 2 } } }).map((d) => ({
    type: "application/json",
    body: JSON.stringify(d),
  })),
  fc.jsonValue().map((d) => ({ type: "application/json", body: JSON.stringify(d) })),
);

const fitsBody = fc.oneof(
  mutated({
    rows: [1e5, 2e5].flatMap((tokens) =>
      [1e-3, 3e-3, 1e-2].map((lr) => ({
        model: "m",
        tokens,
        batchSize: 8,
        lr,
        testLoss: 3 + Math.abs(Math.log(lr / 3e-3)),
      })),
    ),
    options: { bandSteps: 2, etaBootstrap: 20, lawBootstrap: 20 },
  }).map((d) => ({ type: "application/json", body: JSON.stringify(d) })),
  fc.jsonValue().map((d) => ({ type: "application/json", body: JSON.stringify(d) })),
);

// ---------- the routes

interface Case {
  method: "GET" | "POST";
  url: string;
  body?: { type: string; body: string };
}

const noBody = fc.constant(undefined);
const routes: Array<[string, fc.Arbitrary<Case>]> = [
  ["GET /healthz", queryOf([]).map((q) => ({ method: "GET", url: `/healthz${q}` }))],
  ["GET /metrics", queryOf([]).map((q) => ({ method: "GET", url: `/metrics${q}` }))],
  [
    "GET /v1/sweeps",
    queryOf(["status", "tag", "limit", "offset"]).map((q) => ({ method: "GET", url: `/v1/sweeps${q}` })),
  ],
  [
    "POST /v1/sweeps",
    fc
      .tuple(queryOf(["dryRun", "name"]), sweepBody)
      .map(([q, body]) => ({ method: "POST", url: `/v1/sweeps${q}`, body })),
  ],
  ["GET /v1/sweeps/:id", idValue.map((id) => ({ method: "GET", url: `/v1/sweeps/${resolveId(id)}` }))],
  [
    "GET /v1/sweeps/:id/trials",
    fc
      .tuple(idValue, queryOf(["status", "model", "tokens", "batchSize", "lr", "seed", "limit", "offset"]))
      .map(([id, q]) => ({ method: "GET", url: `/v1/sweeps/${resolveId(id)}/trials${q}` })),
  ],
  [
    "POST /v1/sweeps/:id/cancel",
    fc.tuple(idValue, noBody).map(([id]) => ({ method: "POST", url: `/v1/sweeps/${resolveId(id)}/cancel` })),
  ],
  [
    "POST /v1/sweeps/:id/retry",
    fc.tuple(idValue, noBody).map(([id]) => ({ method: "POST", url: `/v1/sweeps/${resolveId(id)}/retry` })),
  ],
  [
    "POST /v1/sweeps/:id/extend",
    fc
      .tuple(idValue, queryOf(["dryRun"]), extendBody)
      .map(([id, q, body]) => ({ method: "POST", url: `/v1/sweeps/${resolveId(id)}/extend${q}`, body })),
  ],
  ["GET /v1/trials/:id", idValue.map((id) => ({ method: "GET", url: `/v1/trials/${resolveId(id)}` }))],
  ["GET /v1/workers", queryOf(["includeStopped"]).map((q) => ({ method: "GET", url: `/v1/workers${q}` }))],
  [
    "GET /v1/sweeps/:id/fit",
    fc
      .tuple(idValue, queryOf(["format", "table"]))
      .map(([id, q]) => ({ method: "GET", url: `/v1/sweeps/${resolveId(id)}/fit${q}` })),
  ],
  [
    "GET /v1/predict",
    fc
      .tuple(
        fc.record({ tokens: queryValue, batchSize: queryValue, a: queryValue, b: queryValue }),
        queryOf(["sweep", "model", "etaMax", "warmupTokens", "decayFraction"]),
      )
      .map(([base, q]) => ({
        method: "GET",
        url: `/v1/predict?${new URLSearchParams(base)}${q ? `&${q.slice(1)}` : ""}`,
      })),
  ],
  ["POST /v1/fits", fitsBody.map((body) => ({ method: "POST", url: "/v1/fits", body }))],
  ["GET /readyz", queryOf([]).map((q) => ({ method: "GET", url: `/readyz${q}` }))],
];

/** Rows of this file's tokens (other test files share the database and write their own meanwhile). */
async function rowCounts() {
  const mine = { owner: { startsWith: "resilience-" } };
  const [sweeps, trials, fits] = await Promise.all([
    api.db.sweep.count({ where: mine }),
    api.db.trial.count({ where: { sweep: mine } }),
    api.db.fit.count({ where: { OR: [{ sweep: mine }, { sweepId: null }] } }),
  ]);
  return { sweeps, trials, fits };
}

describe(`fuzz (${FULL ? "full" : "reduced"}: ${RUNS * routes.length} cases)`, () => {
  test.each(routes)(
    "%s",
    async (_name, cases) => {
      await fc.assert(
        fc.asyncProperty(cases, async (c) => {
          const before = await rowCounts();
          const res = await api.app.inject({
            method: c.method,
            url: c.url,
            headers: { ...api.auth(api.tokens.admin), ...(c.body ? { "content-type": c.body.type } : {}) },
            ...(c.body ? { payload: c.body.body } : {}),
          });
          const what = `${c.method} ${c.url} ${c.body ? `(${c.body.type}) ${c.body.body.slice(0, 300)}` : ""} → ${res.statusCode} ${res.body.slice(0, 300)}`;
          expect(res.statusCode, what).toBeLessThan(500);
          if (res.statusCode >= 400) {
            expect(res.headers["content-type"], what).toMatch(/^application\/problem\+json/);
            const p = res.json() as { status: number; errors?: Array<{ path: unknown; message: unknown }> };
            expect(p.status, what).toBe(res.statusCode);
            expect(p.errors?.length, what).toBeGreaterThan(0);
            for (const e of p.errors ?? []) expect(typeof e.path, what).toBe("string");
            expect(await rowCounts(), `partial write: ${what}`).toEqual(before);
          }
        }),
        { numRuns: RUNS, seed: FULL ? undefined : 17, endOnFailure: true },
      );
    },
    600_000,
  );
});
