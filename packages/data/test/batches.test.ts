import { describe, expect, it } from "vitest";
import { createBatchLoader, DataError, evalBatches, evalSubset, evalWindows } from "../src/index.ts";

/** stream[i] = i: every window is a run of consecutive ids, so shifts and bounds are visible. */
const arange = (n: number) => Uint16Array.from({ length: n }, (_, i) => i);

describe("createBatchLoader", () => {
  const stream = arange(5000);

  it("returns [batchSize, seqLen] windows with targets = inputs shifted by one", () => {
    const loader = createBatchLoader(stream, { batchSize: 4, seqLen: 32, seed: 1 });
    for (let step = 0; step < 10; step++) {
      const { inputs, targets } = loader.next();
      expect(inputs).toBeInstanceOf(Int32Array);
      expect(inputs.length).toBe(4 * 32);
      expect(targets.length).toBe(4 * 32);
      for (let row = 0; row < 4; row++) {
        const start = inputs[row * 32] as number;
        for (let t = 0; t < 32; t++) {
          expect(inputs[row * 32 + t]).toBe(start + t); // a contiguous window of the stream
          expect(targets[row * 32 + t]).toBe(start + t + 1); // next-token targets
        }
      }
    }
  });

  it("stays in bounds and reaches both ends of the stream", () => {
    const small = arange(12);
    const loader = createBatchLoader(small, { batchSize: 8, seqLen: 5, seed: 3 });
    const firstInputs = new Set<number>();
    let maxTarget = 0;
    for (let i = 0; i < 100; i++) {
      const { inputs, targets } = loader.next();
      for (let row = 0; row < 8; row++) firstInputs.add(inputs[row * 5] as number);
      for (const t of targets) maxTarget = Math.max(maxTarget, t);
    }
    expect(maxTarget).toBe(11); // last token is a target, never past the end
    expect([...firstInputs].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]); // every valid start
  });

  it("is deterministic given the seed, and different seeds give different batches", () => {
    const a = createBatchLoader(stream, { batchSize: 2, seqLen: 16, seed: 42 });
    const b = createBatchLoader(stream, { batchSize: 2, seqLen: 16, seed: 42 });
    const c = createBatchLoader(stream, { batchSize: 2, seqLen: 16, seed: 43 });
    for (let i = 0; i < 5; i++) {
      const [x, y, z] = [a.next(), b.next(), c.next()];
      expect(y).toEqual(x);
      expect(z.inputs).not.toEqual(x.inputs);
    }
  });

  it("resumes from a JSON-serialised position with identical next batches", () => {
    const original = createBatchLoader(stream, { batchSize: 3, seqLen: 20, seed: 7 });
    for (let i = 0; i < 5; i++) original.next();
    const saved = JSON.stringify(original.position());
    expect(JSON.parse(saved)).toMatchObject({ seed: 7, startStep: 5, batchSize: 3, seqLen: 20 });
    const expected = [original.next(), original.next(), original.next()];
    const restored = createBatchLoader(stream, JSON.parse(saved));
    expect([restored.next(), restored.next(), restored.next()]).toEqual(expected);
    expect(restored.position().startStep).toBe(8);
    // startStep alone also skips ahead without replaying.
    const skipped = createBatchLoader(stream, { batchSize: 3, seqLen: 20, seed: 7, startStep: 5 });
    expect(skipped.next()).toEqual(expected[0]);
  });

  it("rejects bad options with errors that name the problem", () => {
    expect(() => createBatchLoader(arange(10), { batchSize: 1, seqLen: 10, seed: 0 })).toThrow(
      /seqLen 10 .*11 tokens.*has 10/,
    );
    expect(() => createBatchLoader(stream, { batchSize: 0, seqLen: 8, seed: 0 })).toThrow(/batchSize/);
    expect(() => createBatchLoader(stream, { batchSize: 2, seqLen: 8.5, seed: 0 })).toThrow(/seqLen/);
    expect(() => createBatchLoader(stream, { batchSize: 2, seqLen: 8, seed: -1 })).toThrow(/seed/);
    const state = createBatchLoader(stream, { batchSize: 2, seqLen: 8, seed: 0 }).position();
    expect(() => createBatchLoader(arange(4000), state)).toThrow(DataError);
    expect(() => createBatchLoader(arange(4000), state)).toThrow(/5000 tokens.*4000/);
  });
});

describe("evalBatches", () => {
  const test = arange(1000);

  it("counts exactly evalTokens distinct targets in windows spread evenly from the first to the last token", () => {
    const batches = evalBatches(test, { evalTokens: 250, seqLen: 16, batchSize: 4 });
    expect(batches).toHaveLength(Math.ceil(Math.ceil(250 / 16) / 4));
    const counted: number[] = [];
    const starts: number[] = [];
    for (const b of batches) {
      expect(b.inputs.length).toBe(4 * 16);
      expect(b.mask.length).toBe(4 * 16);
      let inBatch = 0;
      b.targets.forEach((t, i) => {
        if (i % 16 === 0 && b.mask[i] === 1) starts.push(b.inputs[i] as number);
        if (b.mask[i] === 1) {
          counted.push(t);
          inBatch++;
          expect(b.inputs[i]).toBe(t - 1); // a window of the stream, targets shifted by one
        }
      });
      expect(b.targetTokens).toBe(inBatch);
    }
    expect(counted).toHaveLength(250);
    expect(new Set(counted).size).toBe(250); // no target counted twice
    expect(starts[0]).toBe(0);
    expect(Math.max(...counted)).toBe(999); // the last window ends on the stream's last token
    // 16 windows over 1000 tokens: one every ~66 tokens, not 250 contiguous targets at the start.
    const gaps = starts.slice(1).map((s, i) => s - (starts[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(65);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(66);
  });

  it("evalWindows depends only on the stream length, evalTokens and seqLen; the subset is every 4th window", () => {
    const w = evalWindows(1000, { evalTokens: 250, seqLen: 16 });
    expect(w).toHaveLength(16);
    expect(w.map((x) => x.targets)).toEqual([...Array(15).fill(16), 10]);
    expect(evalWindows(1000, { evalTokens: 250, seqLen: 16 })).toEqual(w);
    expect(evalSubset(w).map((x) => x.start)).toEqual([0, 4, 8, 12].map((i) => w[i]?.start));
    // a subset packs only its windows
    const sub = evalBatches(test, { evalTokens: 250, seqLen: 16, batchSize: 8, windows: evalSubset(w) });
    expect(sub).toHaveLength(1);
    expect(sub[0]?.targetTokens).toBe(4 * 16);
  });

  it("has no padding when evalTokens fills whole batches, and is the same every call", () => {
    const a = evalBatches(test, { evalTokens: 128, seqLen: 16, batchSize: 4 });
    expect(a).toHaveLength(2);
    for (const b of a) expect(b.mask.every((m) => m === 1)).toBe(true);
    expect(evalBatches(test, { evalTokens: 128, seqLen: 16, batchSize: 4 })).toEqual(a);
  });

  it("can use every target of the test stream, and not one more", () => {
    const all = evalBatches(test, { evalTokens: 999, seqLen: 100, batchSize: 3 });
    expect(all.reduce((n, b) => n + b.targetTokens, 0)).toBe(999);
    const counted = all.flatMap((b) => Array.from(b.targets).filter((_, i) => b.mask[i] === 1));
    expect(counted).toEqual(Array.from({ length: 999 }, (_, i) => i + 1)); // contiguous when it takes everything
    expect(() => evalBatches(test, { evalTokens: 1000, seqLen: 100, batchSize: 3 })).toThrow(
      /evalTokens 1000 exceeds .*1000 tokens.*999/,
    );
  });

  it("rejects seqLen longer than the test stream", () => {
    expect(() => evalBatches(arange(50), { evalTokens: 10, seqLen: 64, batchSize: 1 })).toThrow(
      /seqLen 64 .*test stream.*50 tokens/,
    );
    expect(() => evalBatches(test, { evalTokens: 0, seqLen: 8, batchSize: 1 })).toThrow(/evalTokens/);
  });
});
