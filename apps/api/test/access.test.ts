// Who may do what, through the HTTP API on real Postgres and Redis: the scope × ownership matrix
// of the mutating sweep routes, token management (admin only), failed-token rate limit, immediate
// revocation on every API process, and ad-hoc fits (submit scope, bounded, off the event loop).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApiToken } from "@powersweep/orchestrator";
import { createRedis, createTrialQueue } from "@powersweep/queue";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { FailureLimiter } from "../src/auth.ts";
import { buildServer } from "../src/index.ts";
import { lrGrid, startTestApi, type TestApi, tinyModel } from "./helpers.ts";

let api: TestApi;
/** A second submit token: a different principal from api.tokens.submit. */
let otherSubmit: string;
/** The deployment's one data root, and a directory outside it. */
let dataRoot: string;
let outside: string;
beforeAll(async () => {
  dataRoot = mkdtempSync(join(tmpdir(), "access-root-"));
  outside = mkdtempSync(join(tmpdir(), "access-outside-"));
  api = await startTestApi("access", { authFailuresPerMinute: 5, fitMaxRows: 500, dataRoots: [dataRoot] });
  otherSubmit = (await createApiToken(api.db, { name: `access-other-${Date.now().toString(36)}`, scopes: ["submit"] }))
    .token;
});
afterAll(async () => {
  await api.close();
  rmSync(dataRoot, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

const json = (token: string) => ({ authorization: `Bearer ${token}`, "content-type": "application/json" });

async function post(url: string, token: string, payload: unknown = {}, remoteAddress?: string) {
  return api.app.inject({
    method: "POST",
    url,
    headers: json(token),
    payload: JSON.stringify(payload),
    ...(remoteAddress ? { remoteAddress } : {}),
  });
}

async function newSweep(name: string) {
  const grid = lrGrid({ name, axes: { models: [tinyModel()], tokens: [1e5], batchSize: [8], lr: [1e-3, 1e-2] } });
  const res = await post("/v1/sweeps", api.tokens.submit, grid);
  expect(res.statusCode).toBe(201);
  return res.json().id as string;
}

const ACTIONS = {
  cancel: { path: "cancel", body: {} },
  retry: { path: "retry", body: {} },
  extend: { path: "extend", body: { lr: [3e-2] } },
} as const;

describe("scope × ownership matrix of the mutating sweep routes", () => {
  test("the submitting token is the sweep's owner", async () => {
    const id = await newSweep("owned");
    expect((await api.db.sweep.findUniqueOrThrow({ where: { id } })).owner).toBe(api.owner);
  });

  const who = ["read", "other submit", "owner submit", "admin"] as const;
  for (const [action, { path, body }] of Object.entries(ACTIONS)) {
    for (const w of who) {
      const allowed = w === "owner submit" || w === "admin";
      test(`${action} by ${w}: ${allowed ? "allowed" : "403, nothing changed"}`, async () => {
        const id = await newSweep(`${action}-${w}`);
        const token = {
          read: api.tokens.read,
          "other submit": otherSubmit,
          "owner submit": api.tokens.submit,
          admin: api.tokens.admin,
        }[w];
        const before = await api.db.sweep.findUniqueOrThrow({ where: { id } });
        const res = await post(`/v1/sweeps/${id}/${path}`, token, body);
        if (!allowed) {
          expect(res.statusCode).toBe(403);
          expect(res.headers["content-type"]).toMatch(/problem\+json/);
          expect(res.json().detail).toMatch(w === "read" ? /"submit" scope/ : /belongs to/);
          const after = await api.db.sweep.findUniqueOrThrow({ where: { id } });
          expect(after.status).toBe(before.status);
          expect(after.trialCount).toBe(before.trialCount);
          expect(await api.db.trial.count({ where: { sweepId: id, status: "cancelled" } })).toBe(0);
        } else {
          expect(res.statusCode).toBe(200);
          if (action === "cancel")
            expect((await api.db.sweep.findUniqueOrThrow({ where: { id } })).status).toBe("cancelled");
          if (action === "extend") expect(res.json().added).toBe(1);
        }
        // every token reads every sweep
        const read = await api.app.inject({ method: "GET", url: `/v1/sweeps/${id}`, headers: json(token) });
        expect(read.statusCode).toBe(200);
      });
    }
  }

  test("an unknown sweep is 404 for a submit token, not 403", async () => {
    const res = await post("/v1/sweeps/00000000-0000-4000-8000-000000000000/cancel", otherSubmit);
    expect(res.statusCode).toBe(404);
  });
});

describe("token management", () => {
  test("admin creates (secret once), lists (no secrets) and revokes; other scopes get 403", async () => {
    for (const token of [api.tokens.read, api.tokens.submit]) {
      expect((await post("/v1/tokens", token, { name: "nope", scopes: ["read"] })).statusCode).toBe(403);
      const list = await api.app.inject({ method: "GET", url: "/v1/tokens", headers: json(token) });
      expect(list.statusCode).toBe(403);
    }
    const name = `made-${Date.now().toString(36)}`;
    const created = await post("/v1/tokens", api.tokens.admin, { name, scopes: ["submit"] });
    expect(created.statusCode).toBe(201);
    const { id, token } = created.json();
    expect(token).toMatch(/^ps_/);
    expect(created.json()).toMatchObject({ name, scopes: ["submit"], revokedAt: null });
    expect((await post("/v1/sweeps?dryRun=true", token, lrGrid())).statusCode).toBe(200);

    const list = await api.app.inject({ method: "GET", url: "/v1/tokens", headers: json(api.tokens.admin) });
    const mine = list.json().items.find((t: { id: string }) => t.id === id);
    expect(mine).toMatchObject({ name, scopes: ["submit"], revokedAt: null });
    expect(mine).not.toHaveProperty("token");
    expect(JSON.stringify(list.json())).not.toContain(token);
    expect(JSON.stringify(list.json())).not.toContain("secretHash");

    const dup = await post("/v1/tokens", api.tokens.admin, { name, scopes: ["read"] });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().errors[0].path).toBe("/body/name");
    const bad = await post("/v1/tokens", api.tokens.admin, { name: "x", scopes: ["root"] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].path).toMatch(/^\/body\/scopes/);
    const nul = await post("/v1/tokens", api.tokens.admin, { name: "a\u0000b", scopes: ["read"] });
    expect(nul.statusCode).toBe(400);
    expect(nul.json().errors[0].path).toBe("/body/name");

    const del = await api.app.inject({ method: "DELETE", url: `/v1/tokens/${id}`, headers: json(api.tokens.admin) });
    expect(del.statusCode).toBe(200);
    expect(del.json().revokedAt).not.toBeNull();
    const again = await api.app.inject({ method: "DELETE", url: `/v1/tokens/${id}`, headers: json(api.tokens.admin) });
    expect(again.statusCode).toBe(404);
    const revoked = await post("/v1/sweeps?dryRun=true", token, lrGrid(), "10.9.9.1");
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json().detail).toMatch(/token revoked/);
    const unknown = await post("/v1/sweeps?dryRun=true", `${token}x`, lrGrid(), "10.9.9.1");
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json().detail).toMatch(/unknown token/);
  });
});

describe("failed tokens", () => {
  test("an address gets 429 with Retry-After after too many failures, other addresses do not", async () => {
    const limit = api.config.authFailuresPerMinute; // 5 here
    const attacker = "10.1.2.3";
    const get = (token: string, remoteAddress: string) =>
      api.app.inject({ method: "GET", url: "/v1/sweeps", headers: json(token), remoteAddress });
    for (let i = 0; i < limit; i++) expect((await get(`ps_guess${i}`, attacker)).statusCode).toBe(401);
    const limited = await get("ps_guess-more", attacker);
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(limited.headers["content-type"]).toMatch(/problem\+json/);
    // the limited address is refused even with a valid token; others are not affected
    expect((await get(api.tokens.read, attacker)).statusCode).toBe(429);
    expect((await get(api.tokens.read, "10.1.2.4")).statusCode).toBe(200);
  });

  test("the limiter admits again once the window has passed (no database involved)", () => {
    let now = 0;
    const limiter = new FailureLimiter(2, 60_000, () => now);
    limiter.fail("a");
    expect(limiter.retryAfterSeconds("a")).toBe(0);
    limiter.fail("a");
    expect(limiter.retryAfterSeconds("a")).toBe(60);
    now = 59_500;
    expect(limiter.retryAfterSeconds("a")).toBe(1);
    expect(limiter.retryAfterSeconds("b")).toBe(0);
    now = 60_000;
    expect(limiter.retryAfterSeconds("a")).toBe(0);
  });
});

test("a revocation through one API process holds at once on another", async () => {
  const redis = createRedis({ url: api.config.redisUrl });
  const queue = createTrialQueue(redis, api.config.redisPrefix);
  const second = buildServer({ db: api.db, redis, trialQueue: queue, config: api.config, auth: true });
  try {
    const created = await post("/v1/tokens", api.tokens.admin, { name: `twice-${Date.now()}`, scopes: ["read"] });
    const { id, token } = created.json();
    const read = (app: typeof second) =>
      app.inject({ method: "GET", url: "/v1/sweeps", headers: json(token), remoteAddress: "10.7.7.7" });
    expect((await read(api.app)).statusCode).toBe(200);
    expect((await read(second)).statusCode).toBe(200);
    const del = await second.inject({ method: "DELETE", url: `/v1/tokens/${id}`, headers: json(api.tokens.admin) });
    expect(del.statusCode).toBe(200);
    expect((await read(api.app)).statusCode).toBe(401);
    expect((await read(second)).statusCode).toBe(401);
  } finally {
    await second.close();
    await queue.close();
    redis.disconnect();
  }
});

describe("ad-hoc fits", () => {
  const rows = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      model: "m",
      tokens: [1e5, 2e5, 4e5][i % 3]!,
      batchSize: 8,
      lr: 1e-3 * 2 ** (Math.floor(i / 3) % 8),
      testLoss: 3 + (Math.log2(1e-3 * 2 ** (Math.floor(i / 3) % 8)) + 7) ** 2 / 50,
    }));

  test("need the submit scope", async () => {
    const res = await post("/v1/fits", api.tokens.read, { rows: rows(24) });
    expect(res.statusCode).toBe(403);
    const ok = await post("/v1/fits", api.tokens.submit, { rows: rows(24) });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().etaOpt.length).toBeGreaterThan(0);
  });

  test("more rows than FIT_MAX_ROWS: 413 naming /body/rows; bad rows: 400 naming the field", async () => {
    const big = await post("/v1/fits", api.tokens.submit, { rows: rows(api.config.fitMaxRows + 1) });
    expect(big.statusCode).toBe(413);
    expect(big.json().errors[0].path).toBe("/body/rows");
    const bad = await post("/v1/fits", api.tokens.submit, {
      rows: [{ model: "m", tokens: -1, batchSize: 1, testLoss: 1 }],
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].path).toBe("/body/rows/0/tokens");
  });
});

describe("ad-hoc fits run off the event loop", () => {
  // 8 token budgets × 4 batch sizes × 8 lrs × 2 seeds = 512 rows: 32 parabolas with bootstraps
  const heavy = () => {
    const out = [];
    for (const tokens of [1e5, 2e5, 4e5, 8e5, 1.6e6, 3.2e6, 6.4e6])
      for (const batchSize of [4, 8, 16, 32])
        for (let k = 0; k < 8; k++)
          for (const seed of [0, 1]) {
            const lr = 1e-4 * 2 ** k;
            out.push({
              model: "m",
              tokens,
              batchSize,
              lr,
              seed,
              testLoss: 3 + (Math.log2(lr) + 11) ** 2 / 40 + seed / 100,
            });
          }
    return out;
  };

  test("/healthz answers while a large fit is running", async () => {
    let fitDone = false;
    const fit = post("/v1/fits", api.tokens.submit, { rows: heavy() }, "10.5.5.5").then((r) => {
      fitDone = true;
      return r;
    });
    // give the request time to reach its thread, then check the loop is free
    await new Promise((r) => setTimeout(r, 50));
    const health = await api.app.inject({ method: "GET", url: "/healthz" });
    expect(health.statusCode).toBe(200);
    expect(fitDone).toBe(false);
    expect((await fit).statusCode).toBe(200);
  });

  test("a fit past FIT_TIMEOUT_SECONDS is stopped: 422 naming /body/rows, and the pool still fits", async () => {
    const redis = createRedis({ url: api.config.redisUrl });
    const queue = createTrialQueue(redis, api.config.redisPrefix);
    const config = { ...api.config, fitTimeoutSeconds: 0.001 }; // 1 ms: no fit of 448 rows makes it
    const app = buildServer({ db: api.db, redis, trialQueue: queue, config, auth: true });
    try {
      const slow = await app.inject({
        method: "POST",
        url: "/v1/fits",
        headers: json(api.tokens.submit),
        payload: JSON.stringify({ rows: heavy() }),
      });
      expect(slow.statusCode).toBe(422);
      expect(slow.json().errors[0].path).toBe("/body/rows");
    } finally {
      await app.close();
      await queue.close();
      redis.disconnect();
    }
    expect((await post("/v1/fits", api.tokens.submit, { rows: heavy().slice(0, 64) })).statusCode).toBe(200);
  });
});

describe("corpus files at submission", () => {
  const tokenFileGrid = (name: string, trainPath: string, testPath = join(dataRoot, "test.u16")) =>
    lrGrid({
      name,
      training: { corpus: { type: "token-file", trainPath, testPath, dtype: "uint16", vocabSize: 256 } },
    });

  test("/etc/passwd as trainPath: 422 naming /training/corpus/trainPath, nothing written", async () => {
    const res = await post("/v1/sweeps", api.tokens.submit, tokenFileGrid("passwd", "/etc/passwd"));
    expect(res.statusCode).toBe(422);
    expect(res.headers["content-type"]).toMatch(/problem\+json/);
    expect(res.json().errors).toEqual([
      { path: "/training/corpus/trainPath", message: expect.stringMatching(/^\/etc\/passwd is outside DATA_ROOTS/) },
    ]);
    expect(res.body).not.toMatch(/root:x:0/);
    expect(await api.db.sweep.count({ where: { name: "passwd" } })).toBe(0);
    // a dry run is refused alike
    expect(
      (await post("/v1/sweeps?dryRun=true", api.tokens.submit, tokenFileGrid("p2", "/etc/passwd"))).statusCode,
    ).toBe(422);
  });

  test("a FIFO and a symlink out of the root are refused; a regular file inside is accepted", async () => {
    const fifo = join(dataRoot, "pipe.u16");
    execFileSync("mkfifo", [fifo]);
    const fifoRes = await post("/v1/sweeps", api.tokens.submit, tokenFileGrid("fifo", fifo));
    expect(fifoRes.statusCode).toBe(422);
    expect(fifoRes.json().errors[0]).toEqual({
      path: "/training/corpus/trainPath",
      message: `${fifo} is not a regular file (a FIFO)`,
    });
    writeFileSync(join(outside, "secret.u16"), "secret");
    const link = join(dataRoot, "link.u16");
    symlinkSync(join(outside, "secret.u16"), link);
    const linkRes = await post("/v1/sweeps", api.tokens.submit, {
      ...lrGrid({ name: "link" }),
      training: { corpus: { type: "text-files", paths: [join(dataRoot, "a.txt"), link], testFraction: 0.5 } },
    });
    expect(linkRes.statusCode).toBe(422);
    expect(linkRes.json().errors[0].path).toBe("/training/corpus/paths/1");
    expect(linkRes.json().errors[0].message).toMatch(/through a symlink/);
    writeFileSync(join(dataRoot, "train.u16"), Buffer.from([1, 0, 2, 0]));
    const ok = await post(
      "/v1/sweeps?dryRun=true",
      api.tokens.submit,
      tokenFileGrid("ok", join(dataRoot, "train.u16")),
    );
    expect(ok.statusCode).toBe(200);
  });
});

test("a sweep's trialMaxSeconds above the deployment's TRIAL_MAX_SECONDS: 422 naming /trialMaxSeconds", async () => {
  const over = await post(
    "/v1/sweeps",
    api.tokens.submit,
    lrGrid({ name: "too-long", trialMaxSeconds: api.config.trialMaxSeconds + 1 }),
  );
  expect(over.statusCode).toBe(422);
  expect(over.json().errors).toEqual([
    { path: "/trialMaxSeconds", message: expect.stringMatching(/TRIAL_MAX_SECONDS/) },
  ]);
  expect(await api.db.sweep.count({ where: { name: "too-long" } })).toBe(0);
  const ok = await post("/v1/sweeps", api.tokens.submit, lrGrid({ name: "short-trials", trialMaxSeconds: 60 }));
  expect(ok.statusCode).toBe(201);
  const stored = await api.db.sweep.findUniqueOrThrow({ where: { id: ok.json().id } });
  expect((stored.spec as { trialMaxSeconds?: number }).trialMaxSeconds).toBe(60);
});
