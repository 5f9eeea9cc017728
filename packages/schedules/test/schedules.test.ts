import type { DecayShape, ScheduleSpec } from "@powersweep/spec";
import { describe, expect, it } from "vitest";
import { createSchedule, decayFactor, EXPONENTIAL_DECAY_RATE, expectedLrCurve, powerLr } from "../src/index.ts";

const SHAPES: DecayShape[] = ["linear", "cosine", "one-minus-sqrt", "exponential"];

/**
 * |f(x − ε) − f(x + ε)| is tiny relative to f(x): no jump at a phase join. The tolerance is 1e-4, not
 * tighter, because one-minus-sqrt has infinite slope at p = 0 (1 − √p moves by √p ≫ p); a real jump,
 * e.g. decaying from η_max instead of η_power(N − N_decay), is orders of magnitude larger.
 */
function expectContinuousAt(f: (n: number) => number, x: number): void {
  const eps = 1e-6;
  const scale = Math.max(Math.abs(f(x)), 1e-12);
  expect(Math.abs(f(x - eps) - f(x + eps)) / scale).toBeLessThan(1e-4);
}

describe("decayFactor", () => {
  it("gives 1 at p = 0, 0 at p = 1 and the hand-computed midpoint for every shape", () => {
    // p = 0.5: linear 1 − 0.5 = 0.5; cosine 0.5·(1 + cos(π/2)) = 0.5; one-minus-sqrt 1 − √0.5 = 0.292893…;
    // exponential (e^−2.5 − e^−5)/(1 − e^−5) = (0.0820850 − 0.0067379)/0.9932621 = 0.0758582
    const mid: Record<DecayShape, number> = {
      linear: 0.5,
      cosine: 0.5,
      "one-minus-sqrt": 0.2928932,
      exponential: 0.0758582,
    };
    expect(EXPONENTIAL_DECAY_RATE).toBe(5);
    for (const shape of SHAPES) {
      expect(decayFactor(shape, 0)).toBeCloseTo(1, 12);
      expect(decayFactor(shape, 1)).toBe(0);
      expect(decayFactor(shape, 0.5)).toBeCloseTo(mid[shape], 6);
    }
  });

  it("is strictly decreasing over the window for every shape", () => {
    for (const shape of SHAPES) {
      let previous = Number.POSITIVE_INFINITY;
      for (let i = 0; i <= 1000; i++) {
        const value = decayFactor(shape, i / 1000);
        expect(value).toBeLessThan(previous);
        previous = value;
      }
    }
  });
});

describe("powerLr (eq. 7)", () => {
  it("reproduces the paper's sanity values of η = β·a·T^b with a = 4.6, b = −0.51, β = 128", () => {
    const params = { powerA: 4.6, powerB: -0.51, etaMax: 1e9, batchSize: 128 };
    // 128·4.6 = 588.8; ln(2e9) = 21.41641, ×0.51 = 10.92237, e^−10.92237 = 1.80502e−5; ×588.8 = 0.010628
    expect(powerLr(2e9, params)).toBeCloseTo(0.0106, 4);
    // ln(2.56e11) = 26.26850, ×0.51 = 13.39694, e^−13.39694 = 1.51983e−6; ×588.8 = 0.000895
    expect(powerLr(2.56e11, params)).toBeCloseTo(0.0009, 4);
  });

  it("clamps at etaMax, including n = 0 where n^b is infinite", () => {
    const params = { powerA: 4, powerB: -0.5, etaMax: 0.1, batchSize: 1 };
    expect(powerLr(0, params)).toBe(0.1);
    expect(powerLr(100, params)).toBe(0.1); // 4/√100 = 0.4 > 0.1
    expect(powerLr(2500, params)).toBeCloseTo(0.08, 12); // 4/√2500 = 4/50
    // scales linearly with β: 2·4/√2500 = 0.16 → clamped to 0.1; 1.2·0.08 = 0.096 not clamped
    expect(powerLr(2500, { ...params, batchSize: 2 })).toBe(0.1);
    expect(powerLr(2500, { ...params, batchSize: 1.2 })).toBeCloseTo(0.096, 12);
  });
});

describe("constant", () => {
  const f = createSchedule({ type: "constant", lr: 0.02, warmupTokens: 100 }, { totalTokens: 1000, batchSize: 8 });
  it("warms up linearly then holds lr", () => {
    expect(f(0)).toBe(0);
    expect(f(25)).toBeCloseTo(0.005, 12); // 0.02·25/100
    expect(f(100)).toBe(0.02);
    expect(f(1000)).toBe(0.02);
    expectContinuousAt(f, 100);
  });
  it("with no warmup starts at lr", () => {
    const g = createSchedule({ type: "constant", lr: 0.02, warmupTokens: 0 }, { totalTokens: 1000, batchSize: 8 });
    expect(g(0)).toBe(0.02);
  });
});

describe("cosine", () => {
  const spec: ScheduleSpec = { type: "cosine", lr: 0.01, warmupTokens: 100, minLrRatio: 0.1 };
  const f = createSchedule(spec, { totalTokens: 1000, batchSize: 8 });
  it("warms up, then follows a cosine from lr to minLrRatio·lr at totalTokens", () => {
    expect(f(50)).toBeCloseTo(0.005, 12); // 0.01·50/100
    expect(f(100)).toBeCloseTo(0.01, 12);
    // n = 550: p = 450/900 = 0.5 → 0.01·(0.1 + 0.9·0.5) = 0.0055
    expect(f(550)).toBeCloseTo(0.0055, 12);
    expect(f(1000)).toBeCloseTo(0.001, 12); // 0.1·0.01
    expectContinuousAt(f, 100);
  });
});

describe("wsd (eq. 2)", () => {
  // N = 1000, N_warmup = 100, decayFraction 0.2 → N_decay = 200, decay from n = 800
  const ctx = { totalTokens: 1000, batchSize: 8 };
  const wsd = (decayShape: DecayShape) =>
    createSchedule({ type: "wsd", lr: 0.01, warmupTokens: 100, decayFraction: 0.2, decayShape }, ctx);

  it("warms up η·n/N_warmup, holds η, then decays", () => {
    const f = wsd("linear");
    expect(f(0)).toBe(0);
    expect(f(50)).toBeCloseTo(0.005, 12); // 0.01·50/100
    expect(f(100)).toBe(0.01);
    expect(f(800)).toBe(0.01);
    expect(f(900)).toBeCloseTo(0.005, 12); // p = 100/200 = 0.5 → 0.01·(1 − 0.5)
  });

  it("decays with each shape, continuously, to exactly 0 at N", () => {
    // n = 900 → p = 0.5 → 0.01·f(0.5), f values as in the decayFactor test
    const at900: Record<DecayShape, number> = {
      linear: 0.005,
      cosine: 0.005,
      "one-minus-sqrt": 0.002928932,
      exponential: 0.000758582,
    };
    for (const shape of SHAPES) {
      const f = wsd(shape);
      expect(f(900)).toBeCloseTo(at900[shape], 8);
      expect(f(1000)).toBe(0);
      expectContinuousAt(f, 100);
      expectContinuousAt(f, 800);
    }
  });

  it("clamps tokens outside [0, N]", () => {
    const f = wsd("linear");
    expect(f(-5)).toBe(0);
    expect(f(1001)).toBe(0);
  });
});

describe("power scheduler (eq. 8)", () => {
  // a = 4, b = −0.5, β = 1 → η_power(n) = min(η_max, 4/√n).
  // N = 40000, N_warmup = 100, decayFraction 0.75 → N_decay = 30000, decay from n = 10000.
  const ctx = { totalTokens: 40_000, batchSize: 1 };
  const power = (etaMax: number, decayShape: DecayShape = "linear", warmupTokens = 100) =>
    createSchedule(
      { type: "power", powerA: 4, powerB: -0.5, etaMax, warmupTokens, decayFraction: 0.75, decayShape },
      ctx,
    );

  it("warms up to η_power(N_warmup), follows η_power, decays from η_power(N − N_decay)", () => {
    const f = power(1);
    // η_power(100) = 4/10 = 0.4 (below η_max = 1)
    expect(f(50)).toBeCloseTo(0.2, 12); // (50/100)·0.4
    expect(f(100)).toBeCloseTo(0.4, 12);
    expect(f(2500)).toBeCloseTo(0.08, 12); // 4/50
    expect(f(10_000)).toBeCloseTo(0.04, 12); // 4/100
    // n = 25000: p = 15000/30000 = 0.5 → 0.5·η_power(10000) = 0.02. Starting from η_max would give 0.5.
    expect(f(25_000)).toBeCloseTo(0.02, 12);
    expect(f(25_000)).not.toBeCloseTo(0.5 * 1, 3);
    expect(f(40_000)).toBe(0);
  });

  it("clamps at etaMax in warmup and the early power phase", () => {
    const f = power(0.1);
    // η_power(100) = min(0.1, 0.4) = 0.1, so warmup ramps to 0.1
    expect(f(50)).toBeCloseTo(0.05, 12);
    expect(f(1000)).toBe(0.1); // 4/√1000 = 0.126 → clamped
    expect(f(1600)).toBeCloseTo(0.1, 12); // 4/40, the clamp's edge
    expect(f(2500)).toBeCloseTo(0.08, 12); // unclamped again
    expect(f(25_000)).toBeCloseTo(0.02, 12); // decay from 0.04, not from η_max = 0.1
  });

  it("with warmupTokens = 0 starts at η_max", () => {
    const f = power(0.1, "linear", 0);
    expect(f(0)).toBe(0.1);
    expect(f(2500)).toBeCloseTo(0.08, 12);
  });

  it("is continuous at the joins and reaches exactly 0 at N for every shape", () => {
    for (const shape of SHAPES) {
      const f = power(1, shape);
      expect(f(40_000)).toBe(0);
      // p = 0.5 → 0.04·f(0.5)
      expect(f(25_000)).toBeCloseTo(0.04 * decayFactor(shape, 0.5), 12);
      expectContinuousAt(f, 100);
      expectContinuousAt(f, 10_000);
    }
  });
});

describe("validation", () => {
  const ctx = { totalTokens: 1000, batchSize: 8 };
  const wsd: ScheduleSpec = { type: "wsd", lr: 0.01, warmupTokens: 100, decayFraction: 0.2, decayShape: "linear" };
  const power: ScheduleSpec = {
    type: "power",
    powerA: 4,
    powerB: -0.51,
    etaMax: 0.02,
    warmupTokens: 100,
    decayFraction: 0.1,
    decayShape: "exponential",
  };
  it("throws clear errors on bad inputs", () => {
    expect(() => createSchedule(wsd, { ...ctx, totalTokens: 0 })).toThrow(/totalTokens/);
    expect(() => createSchedule(wsd, { ...ctx, totalTokens: -1 })).toThrow(/totalTokens/);
    expect(() => createSchedule({ ...wsd, warmupTokens: 900 }, ctx)).toThrow(/exceed totalTokens/);
    expect(() => createSchedule({ ...wsd, warmupTokens: 2000 }, ctx)).toThrow(/warmupTokens/);
    expect(() => createSchedule({ ...wsd, warmupTokens: -1 }, ctx)).toThrow(/warmupTokens/);
    expect(() => createSchedule({ ...wsd, decayFraction: 1.5 }, ctx)).toThrow(/decayFraction/);
    expect(() => createSchedule({ ...wsd, lr: 0 }, ctx)).toThrow(/lr/);
    expect(() => createSchedule({ type: "cosine", lr: 0.01, warmupTokens: 1000, minLrRatio: 0 }, ctx)).toThrow(
      /cosine/,
    );
    expect(() => createSchedule({ type: "cosine", lr: 0.01, warmupTokens: 0, minLrRatio: 2 }, ctx)).toThrow(
      /minLrRatio/,
    );
    expect(() => createSchedule({ ...power, powerB: 0.5 }, ctx)).toThrow(/powerB/);
    expect(() => createSchedule({ ...power, etaMax: 0 }, ctx)).toThrow(/etaMax/);
    expect(() => createSchedule(power, { ...ctx, batchSize: 0 })).toThrow(/batchSize/);
  });
  it("accepts warmup + decay that exactly fill the budget", () => {
    const f = createSchedule({ ...wsd, warmupTokens: 800 }, ctx);
    expect(f(800)).toBe(0.01);
    expect(f(1000)).toBe(0);
  });
});

describe("expectedLrCurve", () => {
  it("samples evenly from 0 to totalTokens inclusive", () => {
    const spec: ScheduleSpec = { type: "wsd", lr: 0.01, warmupTokens: 100, decayFraction: 0.2, decayShape: "linear" };
    const curve = expectedLrCurve(spec, { totalTokens: 1000, batchSize: 8 }, 11);
    expect(curve.map((point) => point.tokens)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    // 0 at start, η through the stable phase, 0.01·(1 − 100/200) at 900, 0 at the end
    expect(curve.map((point) => point.lr)).toEqual([0, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.005, 0]);
    expect(() => expectedLrCurve(spec, { totalTokens: 1000, batchSize: 8 }, 1)).toThrow(/points/);
  });
});
