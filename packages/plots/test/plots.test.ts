import { describe, expect, it } from "vitest";
import {
  batchSizeChart,
  covarianceBand,
  escapeXml,
  gammaVsTokensChart,
  linearTicks,
  logScale,
  logTicks,
  lossCurveChart,
  lossVsLrChart,
  lrCurveChart,
} from "../src/index.ts";

const count = (svg: string, re: RegExp) => (svg.match(re) ?? []).length;
const pts = (svg: string, series?: string) =>
  count(
    svg,
    series ? new RegExp(`<circle class="pt" data-series="${escapeRe(escapeXml(series))}"`, "g") : /<circle class="pt"/g,
  );
function escapeRe(s: string) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("scales and ticks", () => {
  it("log ticks for 1e-4..3e-2 include the decades 1e-3 and 1e-2 as major ticks", () => {
    const ticks = logTicks(1e-4, 3e-2);
    const majors = ticks.filter((t) => t.major).map((t) => t.value);
    expect(majors).toEqual([1e-4, 1e-3, 1e-2]);
    // 2 and 5 minors between decades, and nothing beyond the domain
    expect(ticks.map((t) => t.value)).toContain(2e-3);
    expect(ticks.map((t) => t.value)).toContain(5e-4);
    expect(Math.max(...ticks.map((t) => t.value))).toBeLessThanOrEqual(3e-2);
  });

  it("a log domain inside one decade still gets labelled ticks (2 and 5 promoted)", () => {
    const majors = logTicks(1.5e9, 8e9)
      .filter((t) => t.major)
      .map((t) => t.value);
    expect(majors).toEqual([2e9, 5e9]);
  });

  it("a log domain too narrow for any 1-2-5 value pair falls back to linear 1-2-5 steps", () => {
    const values = logTicks(120, 270).map((t) => t.value);
    expect(values.length).toBeGreaterThanOrEqual(2);
    expect(values.every((v) => v >= 120 && v <= 270)).toBe(true);
  });

  it("log scale maps each decade to the same pixel width", () => {
    const s = logScale([1e-4, 1e-1], [0, 300]);
    expect(s.map(1e-4)).toBeCloseTo(0);
    expect(s.map(1e-3)).toBeCloseTo(100);
    expect(s.map(1e-2)).toBeCloseTo(200);
    expect(s.map(1e-1)).toBeCloseTo(300);
    expect(s.map(0)).toBeNaN();
    expect(s.map(-1)).toBeNaN();
  });

  it("linear ticks step by 1, 2 or 5 times a power of ten", () => {
    expect(linearTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(linearTicks(3.21, 4.07, 5)).toEqual([3.4, 3.6, 3.8, 4]);
    const t = linearTicks(0, 1.3e9, 5);
    const steps = t.slice(1).map((v, i) => v - t[i]!);
    expect(new Set(steps.map((s) => s.toPrecision(6))).size).toBe(1);
    expect([1, 2, 5]).toContain(Number((steps[0]! / 10 ** Math.floor(Math.log10(steps[0]!))).toFixed(6)));
  });
});

describe("lossVsLrChart (Fig. 2 / Fig. 3)", () => {
  const grid = [2e-4, 4e-4, 8e-4, 1.6e-3, 3.2e-3, 6.4e-3, 1.28e-2, 2.56e-2];
  const bowl = (opt: number, base: number) =>
    grid.map((lr) => ({ lr, testLoss: base + 0.3 * Math.log(lr / opt) ** 2 }));

  it("draws one circle.pt per data point, per series, and an η_opt star per series", () => {
    const svg = lossVsLrChart(
      [
        { label: "T=2e9", points: bowl(1.28e-2, 3.1), etaOpt: 1.28e-2 },
        { label: "T=8e9", points: bowl(3.2e-3, 3.0).slice(0, 6), etaOpt: 3.2e-3 },
        { label: "T=3.2e10", points: bowl(8e-4, 2.9), etaOpt: 2e-4, onEdge: true },
      ],
      { title: "test loss vs η" },
    );
    expect(pts(svg)).toBe(8 + 6 + 8);
    expect(pts(svg, "T=8e9")).toBe(6);
    expect(count(svg, /<path class="opt"/g)).toBe(3);
    expect(count(svg, /class="legend-item edge" data-series="T=3.2e10"/g)).toBe(1);
    expect(svg).toContain("⚠ edge");
    expect(svg).not.toContain("NaN");
  });

  it("places the η_opt star at the η it was given on the x axis", () => {
    const svg = lossVsLrChart([{ label: "β=128", points: bowl(1.6e-3, 3), etaOpt: 1.6e-3 }]);
    const star = svg.match(/<path class="opt" data-series="β=128" data-x="([^"]+)"/);
    expect(Number(star?.[1])).toBeCloseTo(1.6e-3);
    const cx = (lr: number) => Number(svg.match(new RegExp(`data-x="${lr}"[^>]*cx="([^"]+)"`))?.[1]);
    // η_opt tick sits at the same x as the grid point with that η
    const tick = svg.match(/<line class="opt-tick" data-series="β=128" x1="([^"]+)"/);
    expect(Number(tick?.[1])).toBeCloseTo(cx(1.6e-3), 1);
  });

  it("skips non-finite and non-positive-η points with a note instead of drawing them at NaN", () => {
    const svg = lossVsLrChart([
      {
        label: "T=1e9",
        points: [
          { lr: 1e-3, testLoss: 3 },
          { lr: 2e-3, testLoss: Number.NaN },
          { lr: 0, testLoss: 3.1 },
          { lr: 4e-3, testLoss: Number.POSITIVE_INFINITY },
          { lr: 8e-3, testLoss: 3.2 },
        ],
      },
    ]);
    expect(pts(svg)).toBe(2);
    expect(svg).toContain("3 points skipped");
    expect(svg).not.toContain("NaN");
  });

  it("empty input renders a clear message, no points", () => {
    const svg = lossVsLrChart([]);
    expect(pts(svg)).toBe(0);
    expect(svg).toContain('class="empty-msg"');
    expect(svg).toContain("No finished trials");
    const allBad = lossVsLrChart([{ label: "x", points: [{ lr: 0, testLoss: 1 }] }]);
    expect(allBad).toContain("could not be placed");
  });

  it("escapes labels so user text cannot break the SVG", () => {
    const svg = lossVsLrChart([{ label: 'a<b & "c"', points: bowl(1e-3, 3) }], { title: "<script>" });
    expect(svg).not.toContain("<script>");
    expect(svg).toContain("&lt;script&gt;");
    expect(svg).toContain('data-series="a&lt;b &amp; &quot;c&quot;"');
  });
});

describe("gammaVsTokensChart (Fig. 4d)", () => {
  const Ts = [2e9, 4e9, 8e9, 1.6e10, 3.2e10, 6.4e10, 1.28e11, 2.56e11];
  const gamma = (t: number) => 4.6 * t ** -0.51; // eq. 5

  it("draws per-T points, the law line, the CI band and the law label with R²", () => {
    const svg = gammaVsTokensChart({
      points: Ts.map((tokens) => ({ tokens, gamma: gamma(tokens) })),
      law: { a: 4.6, b: -0.51, aCI: [3.9, 5.4], bCI: [-0.55, -0.47], r2: 0.987 },
    });
    expect(pts(svg)).toBe(Ts.length);
    expect(count(svg, /<path class="band"/g)).toBe(1);
    expect(count(svg, /<path class="line" data-series="γ = a·T\^b"/g)).toBe(1);
    expect(svg).toContain("γ = a·T^b, a=4.6 [3.9, 5.4], b=-0.51 [-0.55, -0.47]");
    expect(svg).toContain("R² = 0.987");
    expect(svg).not.toContain("NaN");
  });

  it("uses the band curves the fit provides, closing them into one area", () => {
    const band = Ts.map((tokens) => ({ tokens, lower: gamma(tokens) * 0.8, upper: gamma(tokens) * 1.25 }));
    const svg = gammaVsTokensChart({
      points: Ts.map((tokens) => ({ tokens, gamma: gamma(tokens) })),
      law: { a: 4.6, b: -0.51, band },
    });
    const d = svg.match(/<path class="band"[^>]* d="([^"]+)"/)?.[1] ?? "";
    expect(d.startsWith("M")).toBe(true);
    expect(d.endsWith("Z")).toBe(true);
    expect(d.split("L").length).toBe(2 * Ts.length); // upper forward + lower backward
  });

  it("computes the 95% band from the fit's (ln a, b) covariance: widest away from the data's centre", () => {
    // Points scattered around eq. 5; OLS in log space by hand so the covariance is the real one.
    const pts = Ts.map((tokens, i) => ({ tokens, gamma: gamma(tokens) * Math.exp(0.05 * (i % 2 === 0 ? 1 : -1)) }));
    const xs = pts.map((p) => Math.log(p.tokens));
    const ys = pts.map((p) => Math.log(p.gamma));
    const n = xs.length;
    const xm = xs.reduce((s, x) => s + x, 0) / n;
    const ym = ys.reduce((s, y) => s + y, 0) / n;
    const sxx = xs.reduce((s, x) => s + (x - xm) ** 2, 0);
    const b = xs.reduce((s, x, i) => s + (x - xm) * (ys[i]! - ym), 0) / sxx;
    const lnA = ym - b * xm;
    const s2 = xs.reduce((s, x, i) => s + (ys[i]! - lnA - b * x) ** 2, 0) / (n - 2);
    const cov = { varLnA: s2 * (1 / n + (xm * xm) / sxx), varB: s2 / sxx, covLnAB: (-s2 * xm) / sxx };
    const band = covarianceBand([Ts[0]!, Math.exp(xm), Ts[Ts.length - 1]!], Math.exp(lnA), b, cov, n);
    const width = band.map((p) => Math.log(p.upper / p.lower));
    expect(width[1]!).toBeLessThan(width[0]!);
    expect(width[1]!).toBeLessThan(width[2]!);
    // at the centre the half-width is t(6)·s/√n
    expect(width[1]! / 2).toBeCloseTo(2.447 * Math.sqrt(s2 / n), 6);
    const svg = gammaVsTokensChart({ points: pts, law: { a: Math.exp(lnA), b, cov, n } });
    expect(count(svg, /<path class="band"/g)).toBe(1);
  });

  it("gives each model size its own γ series (the pooled law over all of them, as eq. 5)", () => {
    const points = ["12M", "36M", "121M"].flatMap((group, i) =>
      Ts.map((tokens) => ({ tokens, gamma: gamma(tokens) * (1 + 0.05 * i), group })),
    );
    const svg = gammaVsTokensChart({ points, law: { a: 4.6, b: -0.51 } });
    expect(pts(svg)).toBe(3 * Ts.length);
    expect(pts(svg, "γ 36M")).toBe(Ts.length);
    expect(count(svg, /class="legend-item"/g)).toBe(4); // three sizes + the law line
  });

  it("skips γ ≤ 0 on the log axis and says so", () => {
    const svg = gammaVsTokensChart({
      points: [...Ts.map((tokens) => ({ tokens, gamma: gamma(tokens) })), { tokens: 1e9, gamma: 0 }],
    });
    expect(pts(svg)).toBe(Ts.length);
    expect(svg).toContain("1 point skipped");
  });
});

describe("curves and batch size", () => {
  it("lrCurveChart draws one line per schedule with every point in it", () => {
    const wsd = Array.from({ length: 50 }, (_, i) => ({
      tokens: i * 1e6,
      lr: i < 5 ? (i / 5) * 0.01 : i > 45 ? (0.01 * (49 - i)) / 4 : 0.01,
    }));
    const svg = lrCurveChart([
      { label: "wsd", points: wsd },
      { label: "power", points: wsd.map((p) => ({ tokens: p.tokens, lr: p.lr / 2 })) },
    ]);
    expect(count(svg, /<path class="line"/g)).toBe(2);
    expect(svg).toContain('data-series="wsd" data-points="50"');
    expect(pts(svg)).toBe(0);
  });

  it("lossCurveChart draws train as a line and eval points as circles", () => {
    const metrics = Array.from({ length: 40 }, (_, i) => ({
      tokens: (i + 1) * 1000,
      trainLoss: 5 / Math.sqrt(i + 1),
      evalLoss: i % 10 === 9 ? 5.2 / Math.sqrt(i + 1) : null,
    }));
    const svg = lossCurveChart([{ label: "trial 1", points: metrics }]);
    expect(pts(svg, "trial 1 eval")).toBe(4);
    expect(svg).toContain('data-series="trial 1 train" data-points="40"');
  });

  it("batchSizeChart plots B_opt per T on log-log and the optional law", () => {
    const svg = batchSizeChart({
      series: [{ label: "36M", points: [2e9, 8e9, 3.2e10].map((tokens, i) => ({ tokens, batchSize: 64 * 2 ** i })) }],
      law: { a: 0.01, b: 0.5 },
    });
    expect(pts(svg)).toBe(3);
    expect(svg).toContain("B_opt = a·T^b");
  });
});
