// Figure details a reader relies on: the left-most tick is labelled, fitted parabolas are drawn on
// the loss-vs-η curves, and a B_opt on the edge of the batch-size grid is marked.
import { describe, expect, it } from "vitest";
import { batchSizeChart, logTicks, lossVsLrChart } from "../src/index.ts";

const tickLabels = (svg: string, axis: "x" | "y") =>
  [...svg.matchAll(new RegExp(`class="tick-label ${axis}" data-value="([^"]+)"[^>]*>([^<]*)<`, "g"))].map((m) => ({
    value: Number(m[1]),
    text: m[2] as string,
  }));
const circles = (svg: string) => [...svg.matchAll(/<circle class="pt"[^>]*data-x="([^"]+)"[^>]*cx="([^"]+)"/g)];

describe("axes", () => {
  it("label a tick at or left of the first data point (an lr grid 2.5e-3 … 8e-2)", () => {
    const lrs = [0.0025, 0.005, 0.01, 0.02, 0.04, 0.08];
    const svg = lossVsLrChart([{ label: "T=25k", points: lrs.map((lr, i) => ({ lr, testLoss: 3 - 0.1 * i })) }]);
    const labels = tickLabels(svg, "x");
    expect(labels[0]?.value).toBeLessThanOrEqual(0.0025);
    expect(labels[0]?.text).toBe("2e-3");
    // within two decades the 2s and 5s are labelled as well
    expect(labels.map((l) => l.text)).toEqual(["2e-3", "5e-3", "1e-2", "2e-2", "5e-2", "1e-1"]);
    // the first point sits right of the first labelled tick
    const firstTickX = Number(svg.match(/class="tick-label x" data-value="0\.002" x="([^"]+)"/)?.[1]);
    const firstPointX = Math.min(...circles(svg).map((m) => Number(m[2])));
    expect(firstPointX).toBeGreaterThan(firstTickX);
  });

  it("label the first tick of a wide log axis when it is a minor 2 or 5", () => {
    const svg = batchSizeChart({
      series: [{ label: "m", points: [2.5e5, 1e7, 1e9].map((tokens) => ({ tokens, batchSize: 8 })) }],
    });
    const labels = tickLabels(svg, "x");
    expect(labels[0]?.value).toBeLessThanOrEqual(2.5e5);
    expect(logTicks(1e-4, 3e-2).filter((t) => !t.major).length).toBeGreaterThan(0); // wider than 2 decades: minors stay
  });
});

describe("loss vs η", () => {
  it("draws each curve's fitted parabola over its band, in the curve's colour, and its vertex", () => {
    const lrs = [0.0025, 0.005, 0.01, 0.02, 0.04, 0.08];
    const loss = (lr: number) => 2.5 + 0.1 * Math.log(lr / 0.012) ** 2;
    const svg = lossVsLrChart([
      {
        label: "T=25k",
        points: lrs.map((lr) => ({ lr, testLoss: loss(lr) })),
        etaOpt: 0.012,
        lossAtOpt: 2.5,
        parabola: { curvature: 0.2, halfWidthLn: 2 * Math.LN2 },
      },
      { label: "T=50k", points: lrs.map((lr) => ({ lr, testLoss: loss(lr) - 0.1 })) },
    ]);
    const path = svg.match(
      /<path class="line" data-series="T=25k parabola" data-points="41" d="([^"]+)"[^>]*stroke="([^"]+)"[^>]*stroke-dasharray/,
    );
    expect(path).not.toBeNull();
    const data = svg.match(/<path class="line" data-series="T=25k" [^>]*stroke="([^"]+)"/);
    expect(path?.[2]).toBe(data?.[1]);
    expect(svg).not.toMatch(/data-series="T=50k parabola"/); // no fit given, none drawn
    expect(svg).toMatch(/<path class="opt" data-series="T=25k"/);
    expect(svg).not.toMatch(/legend-item[^>]*data-series="T=25k parabola"/);
  });
});

describe("B_opt vs T", () => {
  it("marks a B_opt on the edge of the batch-size grid with an arrow and a note", () => {
    const svg = batchSizeChart({
      series: [
        {
          label: "d32",
          points: [25e3, 5e4, 1e5].map((tokens) => ({ tokens, batchSize: 16, edge: "higher" as const })),
        },
      ],
    });
    expect(svg.match(/class="edge-mark edge-up"/g)).toHaveLength(3);
    expect(svg).toMatch(/largest batch size of the grid; extend higher/);
    expect(svg).toMatch(/B_opt on the edge of the batch-size grid/);
    const interior = batchSizeChart({
      series: [{ label: "d32", points: [25e3, 5e4].map((tokens, i) => ({ tokens, batchSize: 8 * 2 ** i })) }],
    });
    expect(interior).not.toMatch(/edge-mark/);
  });
});
