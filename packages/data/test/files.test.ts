import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  clearDatasetCache,
  DataError,
  DOCUMENT_SEPARATOR,
  fitGpt2TopK,
  loadDataset,
  splitTextFilePaths,
} from "../src/index.ts";
import { tempDir, tokenBytes } from "./helpers.ts";

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
  process.env.DATA_ROOTS = tmp.dir; // corpus files are read only inside the deployment's data roots
});
afterAll(() => tmp.cleanup());

const fileText = (i: number) =>
  `File number ${i}. ${"The quick brown fox jumps over the lazy dog. ".repeat(3 + i)}Unique tail ${i}.`;

describe("text-files corpus", () => {
  it("holds out whole files deterministically, independent of path order and duplicates", async () => {
    const paths = await Promise.all(Array.from({ length: 10 }, (_, i) => tmp.write(`doc${i}.txt`, fileText(i))));
    const split = splitTextFilePaths(paths, 0.2);
    expect(split.test).toHaveLength(2);
    expect(split.train).toHaveLength(8);
    expect(split.train.filter((p) => split.test.includes(p))).toEqual([]);
    expect(splitTextFilePaths([...paths].reverse().concat(paths[0] as string), 0.2)).toEqual(split);

    const dataset = await loadDataset({ corpus: { type: "text-files", paths, testFraction: 0.2 } });
    const text = (stream: ArrayLike<number>) => Buffer.from(Uint8Array.from(stream)).toString("utf8");
    const contentOf = (p: string) => fileText(Number(/doc(\d+)\.txt$/.exec(p)?.[1]));
    expect(text(dataset.test)).toBe(split.test.map(contentOf).join(DOCUMENT_SEPARATOR));
    expect(text(dataset.train)).toBe(split.train.map(contentOf).join(DOCUMENT_SEPARATOR));
    for (const p of split.test) expect(text(dataset.train)).not.toContain(`Unique tail ${/doc(\d+)/.exec(p)?.[1]}.`);
    expect(dataset.describe()).toMatchObject({ corpus: "text-files", testDocuments: split.test, trainDocuments: 8 });
  });

  it("always holds out at least one file and keeps at least one for training", () => {
    expect(splitTextFilePaths(["a", "b"], 0.01).test).toHaveLength(1);
    expect(splitTextFilePaths(["a", "b", "c"], 0.99).train).toHaveLength(1);
    expect(() => splitTextFilePaths(["a", "a"], 0.5)).toThrow(/at least 2 distinct paths/);
  });

  it("names a missing file", async () => {
    const good = await tmp.write("present.txt", "hello there");
    const missing = `${tmp.dir}/no-such-file.txt`;
    const load = loadDataset({ corpus: { type: "text-files", paths: [good, missing], testFraction: 0.5 } });
    await expect(load).rejects.toThrow(DataError);
    await expect(load).rejects.toThrow(`${missing} does not exist`);
  });
});

describe("token-file corpus", () => {
  it("reads little-endian uint16 and uint32 token ids", async () => {
    const trainIds = [0, 1, 2, 300, 65535, 7, 7, 9];
    const testIds = [5, 4, 3, 2, 1];
    const trainPath = await tmp.write("train.u16", tokenBytes(trainIds, "uint16"));
    const testPath = await tmp.write("test.u16", tokenBytes(testIds, "uint16"));
    const d16 = await loadDataset({
      corpus: { type: "token-file", trainPath, testPath, dtype: "uint16", vocabSize: 65536 },
    });
    expect(d16.vocabSize).toBe(65536);
    expect(d16.train).toBeInstanceOf(Uint16Array);
    expect(Array.from(d16.train)).toEqual(trainIds);
    expect(Array.from(d16.test)).toEqual(testIds);

    const big = [100_000, 3, 50_257, 99_999];
    const train32 = await tmp.write("train.u32", tokenBytes(big, "uint32"));
    const test32 = await tmp.write("test.u32", tokenBytes([1, 2, 3], "uint32"));
    const d32 = await loadDataset({
      corpus: { type: "token-file", trainPath: train32, testPath: test32, dtype: "uint32", vocabSize: 100_277 },
    });
    expect(d32.train).toBeInstanceOf(Int32Array);
    expect(Array.from(d32.train)).toEqual(big);
    expect(d32.describe()).toMatchObject({
      corpus: "token-file",
      trainTokens: 4,
      testTokens: 3,
      testDocuments: [test32],
    });
  });

  it("rejects bad files with errors that name the file and the problem", async () => {
    const ok = await tmp.write("ok.u16", tokenBytes([1, 2, 3], "uint16"));
    const odd = await tmp.write("odd.u16", new Uint8Array([1, 0, 2]));
    const outOfRange = await tmp.write("range.u16", tokenBytes([1, 2, 300], "uint16"));
    const corpus = (trainPath: string, testPath: string) =>
      ({ type: "token-file", trainPath, testPath, dtype: "uint16", vocabSize: 256 }) as const;
    await expect(loadDataset({ corpus: corpus(odd, ok) })).rejects.toThrow(`${odd} has 3 bytes, not a multiple of 2`);
    await expect(loadDataset({ corpus: corpus(ok, outOfRange) })).rejects.toThrow(
      `${outOfRange} holds ids not below vocabSize 256`,
    );
    await expect(loadDataset({ corpus: corpus(ok, `${tmp.dir}/gone.u16`) })).rejects.toThrow(
      /gone\.u16 does not exist/,
    );
    await expect(loadDataset({ corpus: corpus(ok, ok) })).rejects.toThrow(/same file/);
    await expect(loadDataset({ corpus: corpus(ok, ok), tokenizer: { type: "gpt2-topk", topK: 512 } })).rejects.toThrow(
      /already tokenised/,
    );
    // Failed loads are not cached: fixing the file makes the same spec load.
    await tmp.write("odd.u16", tokenBytes([1, 2], "uint16"));
    await expect(loadDataset({ corpus: corpus(odd, ok) })).resolves.toMatchObject({ vocabSize: 256 });
  });
});

describe("gpt2-topk tokenizer", () => {
  it("fits the vocabulary on train only: vocabSize = topK with the last id as UNK", async () => {
    clearDatasetCache();
    const paths = await Promise.all(Array.from({ length: 6 }, (_, i) => tmp.write(`g${i}.txt`, fileText(i))));
    const { test } = splitTextFilePaths(paths, 0.2);
    const testPath = test[0] as string;
    await tmp.write(testPath.slice(tmp.dir.length + 1), "Zebras quarrel vociferously about xylophones.");
    const dataset = await loadDataset({
      corpus: { type: "text-files", paths, testFraction: 0.2 },
      tokenizer: { type: "gpt2-topk", topK: 1000 },
    });
    const unk = 999;
    expect(dataset.vocabSize).toBe(1000);
    for (const id of dataset.train) expect(id).toBeLessThan(1000);
    // Every training token is in the fitted vocabulary, so train text round-trips exactly ...
    expect(dataset.train.includes(unk)).toBe(false);
    expect(
      dataset
        .decode?.(dataset.train)
        .startsWith(fileText(Number(/g(\d)/.exec(paths.find((p) => p !== testPath) ?? "")?.[1]))),
    ).toBe(true);
    // ... while words seen only in the held-out file map to UNK.
    expect(dataset.test.includes(unk)).toBe(true);
    expect(dataset.describe().testUnkFraction).toBeGreaterThan(0.3);
    expect(dataset.describe().trainUnkFraction).toBe(0);
  });

  it("keeps the most frequent ids and sends the rest to UNK", () => {
    const codec = fitGpt2TopK(3, [" the the the the cat cat dog"]);
    expect(codec.vocabSize).toBe(3);
    expect(codec.unkId).toBe(2);
    // " the" (4 times) → 0, " cat" (twice) → 1, " dog" (once, beyond the top 2) → UNK.
    expect(codec.encode(" the cat dog")).toEqual([0, 1, 2]);
    expect(codec.encode(" zebra").every((id) => id === 2)).toBe(true);
    expect(codec.decode(codec.encode(" the cat"))).toBe(" the cat");
    expect(codec.decode(codec.encode(" the dog"))).toBe(" the\uFFFD");
  });
});
