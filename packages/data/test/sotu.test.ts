import { describe, expect, it } from "vitest";
import {
  byteCodec,
  clearDatasetCache,
  DOCUMENT_SEPARATOR,
  evalBatches,
  evalWindows,
  loadDataset,
  loadDocumentSplit,
  loadSotuDocuments,
  SOTU_TEST_EVERY,
  SOTU_TEST_OFFSET,
} from "../src/index.ts";

describe("sotu corpus (byte tokenizer)", () => {
  it("has the 233 public-domain addresses, sorted by date", async () => {
    const docs = await loadSotuDocuments();
    expect(docs).toHaveLength(233);
    const ids = docs.map((d) => d.id);
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0]).toMatch(/^1790_/);
    for (const d of docs) expect(d.text.length).toBeGreaterThan(1000);
  });

  it("holds out whole documents: every 10th by date, disjoint from train", async () => {
    const all = await loadSotuDocuments();
    const split = await loadDocumentSplit({ type: "sotu" });
    const expectedTest = all.filter((_, i) => i % SOTU_TEST_EVERY === SOTU_TEST_OFFSET).map((d) => d.id);
    expect(split.test.map((d) => d.id)).toEqual(expectedTest);
    expect(split.test).toHaveLength(Math.floor(233 / 10));
    expect(split.train.length + split.test.length).toBe(233);
    const trainIds = new Set(split.train.map((d) => d.id));
    for (const d of split.test) expect(trainIds.has(d.id)).toBe(false);
    // Each held-out document is unchanged (whole), not a fragment.
    const byId = new Map(all.map((d) => [d.id, d.text]));
    for (const d of split.test) expect(d.text).toBe(byId.get(d.id));
  });

  it("train and test streams are exactly their documents, and no test text appears in train", async () => {
    clearDatasetCache();
    const dataset = await loadDataset({ corpus: { type: "sotu" } });
    const split = await loadDocumentSplit({ type: "sotu" });
    expect(dataset.vocabSize).toBe(256);
    expect(dataset.train).toBeInstanceOf(Uint16Array);

    const trainBytes = Buffer.from(Uint8Array.from(dataset.train));
    const testBytes = Buffer.from(Uint8Array.from(dataset.test));
    expect(trainBytes.toString("utf8")).toBe(split.train.map((d) => d.text).join(DOCUMENT_SEPARATOR));
    expect(testBytes.toString("utf8")).toBe(split.test.map((d) => d.text).join(DOCUMENT_SEPARATOR));

    // Long substrings (128 bytes) from the start, middle and end of every test document are absent from train.
    for (const d of split.test) {
      const bytes = Buffer.from(d.text, "utf8");
      for (const at of [0, Math.floor(bytes.length / 2), bytes.length - 128]) {
        const sample = bytes.subarray(at, at + 128);
        expect(sample.length).toBe(128);
        expect(trainBytes.indexOf(sample), `${d.id} @${at} leaked into train`).toBe(-1);
        expect(testBytes.indexOf(sample)).toBeGreaterThanOrEqual(0);
      }
    }

    const described = dataset.describe();
    expect(described.trainTokens).toBe(dataset.train.length);
    expect(described.testTokens).toBe(dataset.test.length);
    expect(described.trainDocuments).toBe(split.train.length);
    expect(described.testDocuments).toEqual(split.test.map((d) => d.id));
  });

  it("the split is stable across calls and cache clears", async () => {
    const first = await loadDataset({ corpus: { type: "sotu" } });
    expect(await loadDataset({ corpus: { type: "sotu" }, tokenizer: { type: "byte" } })).toBe(first);
    clearDatasetCache();
    const second = await loadDataset({ corpus: { type: "sotu" } });
    expect(second).not.toBe(first);
    expect(second.describe().testDocuments).toEqual(first.describe().testDocuments);
    expect(Buffer.from(second.test.buffer).equals(Buffer.from(first.test.buffer))).toBe(true);
  });

  it("eval windows come from the held-out stream and cover every held-out document in proportion to its length", async () => {
    const dataset = await loadDataset({ corpus: { type: "sotu" } });
    const split = await loadDocumentSplit({ type: "sotu" });
    const evalTokens = 16_384;
    const seqLen = 64;
    const windows = evalWindows(dataset.test.length, { evalTokens, seqLen });
    const batches = evalBatches(dataset.test, { evalTokens, seqLen, batchSize: 8 });
    let counted = 0;
    for (const b of batches) {
      b.targets.forEach((t, i) => {
        if (b.mask[i] === 1) {
          counted++;
          expect(b.inputs[i]).toBeLessThan(256);
          expect(t).toBeLessThan(256);
        }
      });
    }
    expect(counted).toBe(evalTokens);
    // Where each held-out document sits in the test stream (byte tokenizer: UTF-8 bytes, separator between).
    const sep = Buffer.byteLength(DOCUMENT_SEPARATOR, "utf8");
    let at = 0;
    const docs = split.test.map((d) => {
      const from = at;
      at += Buffer.byteLength(d.text, "utf8") + sep;
      return { id: d.id, from, to: at - sep };
    });
    expect(docs.at(-1)?.to).toBe(dataset.test.length);
    const perToken = windows.length / dataset.test.length;
    for (const d of docs) {
      const inside = windows.filter((w) => w.start >= d.from && w.start < d.to).length;
      expect(inside, d.id).toBeGreaterThanOrEqual(1);
      expect(Math.abs(inside - (d.to - d.from) * perToken), d.id).toBeLessThanOrEqual(2);
    }
    // The old set (the first evalTokens of the stream) lay inside the first two addresses only.
    expect(docs.filter((d) => d.from < evalTokens)).toHaveLength(2);
  });

  it("byte tokenizer round-trips text, including multi-byte UTF-8", async () => {
    const text = "Fellow-Citizens: naïve café — 東京 🚀\n\nEnd.";
    const ids = byteCodec.encode(text);
    expect(ids.length).toBe(Buffer.byteLength(text, "utf8"));
    expect(ids.every((id) => id >= 0 && id < 256)).toBe(true);
    expect(byteCodec.decode(ids)).toBe(text);
    const dataset = await loadDataset({ corpus: { type: "sotu" } });
    const split = await loadDocumentSplit({ type: "sotu" });
    const firstTest = split.test[0]?.text ?? "";
    expect(dataset.decode?.(dataset.test.subarray(0, Buffer.byteLength(firstTest, "utf8")))).toBe(firstTest);
  });
});
