// The loss-curve panels are pure renderers: observed curve with the predicted one over it, and
// predicted vs observed final losses with their in-sample error.
import { describe, expect, it } from "vitest";
import { curveModelSection, curveOverlayChart, predictedVsObservedChart } from "../src/curves.ts";

describe("loss-curve panels", () => {
  it("draws observed and predicted curves with the interval band", () => {
    const svg = curveOverlayChart(
      [
        { step: 1, tokens: 512, lr: 0.01, trainLoss: 3.1, evalLoss: null },
        { step: 2, tokens: 1024, lr: 0.01, trainLoss: 2.9, evalLoss: 2.8 },
      ],
      [
        { tokens: 512, loss: 3.0, lower: 2.95, upper: 3.05 },
        { tokens: 1024, loss: 2.85, lower: 2.8, upper: 2.9 },
      ],
      { width: 400, height: 200, title: "overlay" },
    );
    expect(svg).toContain("<svg");
    for (const label of ["observed train", "observed eval", "predicted", "95% interval"]) expect(svg).toContain(label);
  });

  it("plots predicted against observed with the y = x line and the MAE", () => {
    const svg = predictedVsObservedChart(
      [
        { observed: 2.4, predicted: 2.42, label: "a" },
        { observed: 2.5, predicted: 2.46, label: "b" },
      ],
      { width: 400, height: 200, title: "pvo" },
    );
    expect(svg).toContain("y = x");
    expect(svg).toContain("in-sample MAE 0.0300 nats (2 trials)");
    expect(predictedVsObservedChart([], { width: 400, height: 200, title: "none" })).toContain(
      "No finished trials with a prediction",
    );
  });

  it("leaves a placeholder naming the sweep and trial, escaped", () => {
    const html = curveModelSection("s-1", 't"1');
    expect(html).toContain('data-sweep="s-1"');
    expect(html).toContain('data-trial="t&quot;1"');
    expect(curveModelSection("s-1", null)).toContain("Click a trial");
  });
});
