import { describe, expect, test } from "vitest";
import { parseExtendDocument, parseSweepDocument, SweepDocumentSchema } from "../src/index.ts";

const yamlDoc = `kind: lr-grid
name: demo
tags: [paper]
axes:
  models:
    - {name: d64, dModel: 64, nLayers: 2, nHeads: 4, dHead: 16, mlpHidden: 256, baseWidth: 32}
  tokens: {geometric: {from: 2e6, factor: 2, count: 6}}
  batchSize: [16, 32]
  lr: {logspace: {from: 1e-4, to: 3e-2, num: 9}}
schedule:
  type: wsd
  decayShape: one-minus-sqrt
`;

describe("parseSweepDocument", () => {
  test("accepts a YAML lr-grid and the same document as JSON", () => {
    const y = parseSweepDocument(yamlDoc, "application/yaml; charset=utf-8");
    expect(y.ok).toBe(true);
    if (!y.ok) return;
    const j = parseSweepDocument(JSON.stringify(y.value), "application/json");
    expect(j).toEqual(y);
  });

  test("names the field and its YAML line", () => {
    const bad = yamlDoc.replace("num: 9", "num: 0").replace("batchSize: [16, 32]", "batchSize: [16, -32]");
    const r = parseSweepDocument(bad, "application/yaml");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: "/axes/batchSize/1", line: 8 }),
        expect.objectContaining({ path: "/axes/lr/logspace/num", line: 9 }),
      ]),
    );
  });

  test("a typo in an enum field spells out the allowed values", () => {
    const r = parseSweepDocument(
      yamlDoc.replace("decayShape: one-minus-sqrt", "decayShape: one-minus-sqr"),
      "application/yaml",
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual([
      {
        path: "/schedule/decayShape",
        line: 12,
        message: 'value must be one of "exponential", "linear", "cosine", "one-minus-sqrt"',
      },
    ]);
  });

  test("a YAML indentation error names its line", () => {
    const r = parseSweepDocument(yamlDoc.replace("\n  batchSize", "\n    batchSize"), "application/yaml");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors[0]).toMatchObject({ line: 8, message: expect.stringContaining("invalid YAML") });
  });

  test("YAML alias bombs are stopped", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 8; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(", ")}]`,
      );
    const r = parseSweepDocument(bomb.join("\n"), "application/yaml");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]?.message).toMatch(/alias/i);
  });

  test("unsupported content types are refused", () => {
    const r = parseSweepDocument("{}", "text/plain");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]?.message).toMatch(/content type/);
  });

  test("CSV becomes an import; bad rows give their line", () => {
    const ok = parseSweepDocument("model,tokens,batchSize,lr,testLoss\nd64,1e6,32,0.001,2.5\n", "text/csv", {
      name: "mine",
    });
    expect(ok).toEqual({
      ok: true,
      value: {
        kind: "import",
        name: "mine",
        rows: [{ model: "d64", tokens: 1e6, batchSize: 32, lr: 0.001, testLoss: 2.5 }],
      },
    });
    const bad = parseSweepDocument(
      "model,tokens,batchSize,lr,testLoss\nd64,1e6,32,0.001,2.5\nd64,1e6,-1,0.001,2.5\n",
      "text/csv",
    );
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors[0]).toMatchObject({ path: "/rows/1/batchSize", line: 3 });
  });

  test("extend documents: only axis keys, at least one", () => {
    expect(parseExtendDocument('{"lr": [0.1]}', "application/json").ok).toBe(true);
    const empty = parseExtendDocument("{}", "application/json");
    expect(empty.ok).toBe(false);
    const unknown = parseExtendDocument('{"depth": [2]}', "application/json");
    expect(!unknown.ok && unknown.errors[0]?.path).toBe("/depth");
  });
});

test("the schema is plain JSON Schema (the API's OpenAPI document embeds it)", () => {
  const json = JSON.parse(JSON.stringify(SweepDocumentSchema));
  expect(json.anyOf).toHaveLength(3);
});
