// The contract: every route declares its success responses, the served OpenAPI document is valid
// OpenAPI 3.1 (a standard validator) with JSON-Schema-2020 schemas, and a response field the
// schema does not declare fails (the tests serialise strictly).

import { SweepSummarySchema } from "@powersweep/spec/api";
import { validate as validateOpenApi } from "@readme/openapi-parser";
import Ajv2020Module from "ajv/dist/2020.js";
import type { RouteOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { buildServer } from "../src/index.ts";
import { createStrictSerializerCompiler } from "../src/validator.ts";
import { startTestApi, type TestApi } from "./helpers.ts";

const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ??
  Ajv2020Module) as typeof Ajv2020Module.default;

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi("contract");
});
afterAll(() => api.close());

/** Routes plugins add for us (Swagger UI, the dashboard's static files): not part of the API. */
const isPluginRoute = (r: RouteOptions) =>
  r.url.startsWith("/docs") ||
  (r.schema as { hide?: boolean } | undefined)?.hide === true ||
  r.url === "/*" ||
  r.url === "/";

describe("every route", () => {
  test("declares a response schema for its success codes", async () => {
    const routes: RouteOptions[] = [];
    const app = buildServer({ ...depsOf(api), strictResponses: true });
    app.addHook("onRoute", (r) => {
      routes.push(r);
    });
    await app.ready();
    await app.close();
    const api_ = routes.filter((r) => !isPluginRoute(r) && r.method !== "HEAD");
    expect(api_.map((r) => r.url)).toEqual(
      expect.arrayContaining(["/v1/sweeps", "/v1/sweeps/:id/fit", "/healthz", "/metrics", "/v1/workers"]),
    );
    const missing = api_
      .filter((r) => {
        const response = (r.schema?.response ?? {}) as Record<string, unknown>;
        return !Object.keys(response).some((code) => /^2\d\d$/.test(code));
      })
      .map((r) => `${r.method} ${r.url}`);
    expect(missing).toEqual([]);
  });
});

function depsOf(t: TestApi) {
  return { db: t.db, redis: t.redis, trialQueue: t.trialQueue, config: t.config };
}

type Content = Record<string, { schema?: unknown }>;
interface Operation {
  parameters?: Array<{ name: string; schema?: unknown }>;
  requestBody?: { content?: Content };
  responses?: Record<string, { content?: Content }>;
}

describe("the OpenAPI document", () => {
  test("is valid OpenAPI 3.1 and lists every route", async () => {
    const res = await api.app.inject({ method: "GET", url: "/docs/json" });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\.1\./);
    const result = await validateOpenApi(structuredClone(doc));
    expect(result.valid ? [] : result.errors).toEqual([]);
    for (const path of [
      "/v1/sweeps",
      "/v1/sweeps/{id}",
      "/v1/sweeps/{id}/trials",
      "/v1/trials/{id}",
      "/v1/predict",
      "/v1/fits",
    ])
      expect(Object.keys(doc.paths)).toContain(path);
  });

  test("its schemas are JSON Schema 2020-12 (what OpenAPI 3.1 means by a schema)", async () => {
    const doc = (await api.app.inject({ method: "GET", url: "/docs/json" })).json();
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    const bad: string[] = [];
    const check = (where: string, schema: unknown) => {
      if (schema && typeof schema === "object" && !ajv.validateSchema(schema as object))
        bad.push(`${where}: ${ajv.errorsText(ajv.errors)}`);
    };
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, Operation>>)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const p of op.parameters ?? []) check(`${method} ${path} ${p.name}`, p.schema);
        for (const [type, c] of Object.entries(op.requestBody?.content ?? {}))
          check(`${method} ${path} body ${type}`, c.schema);
        for (const [code, r] of Object.entries(op.responses ?? {}))
          for (const [type, c] of Object.entries(r.content ?? {})) check(`${method} ${path} ${code} ${type}`, c.schema);
      }
    }
    expect(bad).toEqual([]);
  });
});

describe("strict serialisation", () => {
  test("a field the schema does not declare fails the response", () => {
    const serialize = createStrictSerializerCompiler()({
      schema: SweepSummarySchema,
      method: "GET",
      url: "/v1/sweeps",
      httpStatus: "200",
    });
    const sweep = {
      id: "00000000-0000-4000-8000-000000000000",
      name: "s",
      kind: "lr-grid",
      status: "queued",
      tags: [],
      trainer: "tfjs",
      priority: 0,
      maxAttempts: 3,
      trialCount: 1,
      owner: null,
      createdAt: new Date(),
      updatedAt: new Date(),
      finishedAt: null,
      counts: { queued: 1, running: 0, succeeded: 0, failed: 0, diverged: 0, cancelled: 0 },
    };
    expect(JSON.parse(serialize(sweep)).createdAt).toMatch(/Z$/);
    expect(() => serialize({ ...sweep, secret: "x" })).toThrow(/must NOT have additional properties "secret"/);
    expect(() => serialize({ ...sweep, status: "finished" })).toThrow(/status/);
  });

  test("a real route answering an undeclared field fails with 500", async () => {
    const app = buildServer({ ...depsOf(api), auth: false, strictResponses: true });
    app.get("/v1/extra-field", { schema: { response: { 200: SweepSummarySchema } } }, async () => ({ extra: 1 }));
    const res = await app.inject({ method: "GET", url: "/v1/extra-field" });
    await app.close();
    expect(res.statusCode).toBe(500);
  });
});
