// Every invalid document is refused with problem+json naming the field, and nothing is written.
import { afterAll, beforeAll, expect, test } from "vitest";
import { lrGrid, startTestApi, type TestApi, tinyModel } from "./helpers.ts";

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi("baddocs");
});
afterAll(() => api.close());

const axes = lrGrid().axes;
const withAxes = (patch: Record<string, unknown>) => lrGrid({ axes: { ...axes, ...patch } });
const power = (patch: Record<string, unknown> = {}) => ({
  kind: "power-grid",
  name: "p",
  axes: { models: [tinyModel()], powerA: [4], powerB: [-0.5], tokens: [1e5], batchSize: [8] },
  schedule: { etaMax: 0.02 },
  ...patch,
});
const json = (body: unknown) => ({ body: JSON.stringify(body), type: "application/json" });
const yaml = (body: string) => ({ body, type: "application/yaml" });

// [label, request, expected status, path the errors must name (or a substring of the detail)]
const cases: Array<[string, { body: string; type: string }, number, string]> = [
  ["zero tokens", json(withAxes({ tokens: [0] })), 400, "/axes/tokens/0"],
  ["negative tokens", json(withAxes({ tokens: [-1e5] })), 400, "/axes/tokens/0"],
  ["empty lr axis", json(withAxes({ lr: [] })), 400, "/axes/lr"],
  ["empty models", json(withAxes({ models: [] })), 400, "/axes/models"],
  [
    "lr logspace from > to",
    json(withAxes({ lr: { logspace: { from: 1e-2, to: 1e-4, num: 5 } } })),
    400,
    "/axes/lr/logspace/from",
  ],
  [
    "lr logspace from 0",
    json(withAxes({ lr: { logspace: { from: 0, to: 1e-2, num: 5 } } })),
    400,
    "/axes/lr/logspace/from",
  ],
  [
    "logspace num missing",
    json(withAxes({ lr: { logspace: { from: 1e-4, to: 1e-2 } } })),
    400,
    "/axes/lr/logspace/num",
  ],
  [
    "logspace unknown key",
    json(withAxes({ lr: { logspace: { from: 1e-4, to: 1e-2, num: 3, base: 2 } } })),
    400,
    "/axes/lr/logspace/base",
  ],
  ["unknown range helper", json(withAxes({ lr: { logrange: { from: 1e-4, to: 1e-2 } } })), 400, "/axes/lr"],
  ["unknown top-level key", json(lrGrid({ colour: "red" })), 400, "/colour"],
  ["unknown axis", json(withAxes({ dropout: [0.1] })), 400, "/axes/dropout"],
  ["unknown model key", json(withAxes({ models: [{ ...tinyModel(), width: 3 }] })), 400, "/axes/models/0/width"],
  ["lr as string", json(withAxes({ lr: ["0.001"] })), 400, "/axes/lr/0"],
  ["batchSize fractional", json(withAxes({ batchSize: [8.5] })), 400, "/axes/batchSize/0"],
  [
    "batchSize geometric from 0.5",
    json(withAxes({ batchSize: { geometric: { from: 0.5, factor: 2, count: 3 } } })),
    400,
    "/axes/batchSize/geometric/from",
  ],
  ["nHeads·dHead ≠ dModel", json(withAxes({ models: [{ ...tinyModel(), nHeads: 3 }] })), 400, "/axes/models/0/nHeads"],
  [
    "duplicate model names",
    json(withAxes({ models: [tinyModel("a", 32), tinyModel("a", 64)] })),
    400,
    "/axes/models/1/name",
  ],
  ["missing name", json({ kind: "lr-grid", axes }), 400, "/name"],
  ["unknown kind", json({ ...lrGrid(), kind: "random-search" }), 400, "/kind"],
  ["missing axes", json({ kind: "lr-grid", name: "x" }), 400, "/axes"],
  ["bad schedule type", json(lrGrid({ schedule: { type: "step" } })), 400, "/schedule/type"],
  ["decayFraction > 1", json(lrGrid({ schedule: { decayFraction: 1.5 } })), 400, "/schedule/decayFraction"],
  ["bad decay shape", json(lrGrid({ schedule: { decayShape: "square" } })), 400, "/schedule/decayShape"],
  ["minLrRatio on wsd", json(lrGrid({ schedule: { type: "wsd", minLrRatio: 0.1 } })), 400, "/schedule/minLrRatio"],
  ["seqLen 1", json(lrGrid({ training: { seqLen: 1 } })), 400, "/training/seqLen"],
  ["unknown corpus", json(lrGrid({ training: { corpus: { type: "wikipedia" } } })), 400, "/training/corpus"],
  ["mup initStd negative", json(lrGrid({ training: { mup: { initStd: -1 } } })), 400, "/training/mup/initStd"],
  ["beta2 = 1", json(lrGrid({ training: { optimizer: { beta2: 1 } } })), 400, "/training/optimizer/beta2"],
  [
    "absurd logspace num",
    json(withAxes({ lr: { logspace: { from: 1e-4, to: 1e-2, num: 1e9 } } })),
    400,
    "/axes/lr/logspace/num",
  ],
  [
    "geometric overflow",
    json(withAxes({ tokens: { geometric: { from: 1e6, factor: 1e10, count: 100 } } })),
    400,
    "/axes/tokens/geometric/count",
  ],
  ["power-grid positive b", json(power({ axes: { ...power().axes, powerB: [0.5] } })), 400, "/axes/powerB/0"],
  ["power-grid missing etaMax", json(power({ schedule: {} })), 400, "/schedule/etaMax"],
  ["power-grid lr axis", json(power({ axes: { ...power().axes, lr: [1e-3] } })), 400, "/axes/lr"],
  [
    "import row without loss",
    json({ kind: "import", name: "i", rows: [{ model: "m", tokens: 1e6, batchSize: 8, lr: 1e-3 }] }),
    400,
    "/rows/0",
  ],
  [
    "import row with lr and powerA",
    json({
      kind: "import",
      name: "i",
      rows: [{ model: "m", tokens: 1e6, batchSize: 8, lr: 1e-3, powerA: 2, powerB: -0.5, testLoss: 3 }],
    }),
    400,
    "/rows/0",
  ],
  ["priority negative", json(lrGrid({ priority: -1 })), 400, "/priority"],
  ["trainer with spaces", json(lrGrid({ trainer: "my trainer" })), 400, "/trainer"],
  [
    "YAML .nan lr",
    yaml(
      "kind: lr-grid\nname: y\naxes:\n  models: [{name: a, dModel: 32, nLayers: 2, nHeads: 2, dHead: 16, mlpHidden: 128, baseWidth: 32}]\n  tokens: [1e5]\n  batchSize: [8]\n  lr: [.nan]\n",
    ),
    400,
    "/axes/lr/0",
  ],
  [
    "YAML .inf tokens",
    yaml(
      "kind: lr-grid\nname: y\naxes:\n  models: [{name: a, dModel: 32, nLayers: 2, nHeads: 2, dHead: 16, mlpHidden: 128, baseWidth: 32}]\n  tokens: [.inf]\n  batchSize: [8]\n  lr: [0.001]\n",
    ),
    400,
    "/axes/tokens/0",
  ],
  ["YAML syntax error", yaml("kind: lr-grid\nname: [unclosed\n"), 400, ""],
  ["YAML duplicate key", yaml("kind: lr-grid\nname: a\nname: b\n"), 400, ""],
  [
    "YAML alias bomb",
    yaml(
      `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n`,
    ),
    400,
    "",
  ],
  ["JSON syntax error", { body: '{"kind": "lr-grid",', type: "application/json" }, 400, ""],
  ["document is an array", json([lrGrid()]), 400, "/kind"],
  ["wrong content type", { body: "kind=lr-grid", type: "application/x-www-form-urlencoded" }, 415, ""],
];

test(`${cases.length} bad documents are refused with problem+json naming the field, leaving no rows`, async () => {
  expect(cases.length).toBeGreaterThanOrEqual(30);
  const before = await api.db.sweep.count({ where: { owner: api.owner } });
  for (const [label, req, status, path] of cases) {
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/sweeps",
      headers: { ...api.auth(), "content-type": req.type },
      payload: req.body,
    });
    expect(res.statusCode, `${label}: ${res.body}`).toBe(status);
    expect(res.headers["content-type"], label).toMatch(/^application\/problem\+json/);
    const body = res.json();
    expect(body.status, label).toBe(status);
    expect(typeof body.title, label).toBe("string");
    expect(typeof body.detail, label).toBe("string");
    if (path) {
      const paths = (body.errors ?? []).map((e: { path: string }) => e.path);
      expect(paths, `${label}: ${res.body}`).toContain(path);
      expect(
        body.errors.every((e: { message: string }) => e.message.length > 0),
        label,
      ).toBe(true);
    }
  }
  expect(await api.db.sweep.count({ where: { owner: api.owner } })).toBe(before);
  expect(await api.db.trial.count({ where: { sweep: { owner: api.owner } } })).toBe(0);
});

test("YAML errors carry the line of the offending field", async () => {
  const doc =
    "kind: lr-grid\nname: y\naxes:\n  models: [{name: a, dModel: 32, nLayers: 2, nHeads: 2, dHead: 16, mlpHidden: 128, baseWidth: 32}]\n  tokens: [1e5]\n  batchSize: [8]\n  lr:\n    logspace: {from: 0.01, to: 0.0001, num: 4}\n";
  const res = await api.app.inject({
    method: "POST",
    url: "/v1/sweeps",
    headers: { ...api.auth(), "content-type": "application/yaml" },
    payload: doc,
  });
  expect(res.statusCode).toBe(400);
  expect(res.json().errors[0]).toMatchObject({ path: "/axes/lr/logspace/from", line: 8 });
});

test("a body over the limit is refused with 413", async () => {
  const res = await api.app.inject({
    method: "POST",
    url: "/v1/sweeps",
    headers: { ...api.auth(), "content-type": "application/json" },
    payload: JSON.stringify({ ...lrGrid(), name: "x".repeat(11 * 1024 * 1024) }),
  });
  expect(res.statusCode).toBe(413);
  expect(res.headers["content-type"]).toMatch(/problem\+json/);
});
