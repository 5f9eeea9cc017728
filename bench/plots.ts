// Rendering cost of the SVG charts (packages/plots): what the dashboard pays on every poll redraw.
import { gammaVsTokensChart, lossCurveChart, lossVsLrChart } from "@powersweep/plots";

function time(fn: () => string, reps: number): { msPerChart: number; bytes: number } {
  let bytes = 0;
  fn(); // warm up
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) bytes = fn().length;
  return { msPerChart: Number(((performance.now() - t0) / reps).toFixed(3)), bytes };
}

export async function run(): Promise<Record<string, unknown>> {
  const grid = Array.from({ length: 12 }, (_, k) => 1e-4 * 2 ** k);
  // Fig. 2 at paper scale: 8 token budgets × 12 learning rates.
  const fig2 = Array.from({ length: 8 }, (_, i) => ({
    label: `T=${2 ** (i + 1)}B`,
    points: grid.map((lr) => ({ lr, testLoss: 3 + 0.1 * Math.log(lr / (0.01 / 2 ** i)) ** 2 })),
    etaOpt: 0.01 / 2 ** i,
  }));
  const Ts = Array.from({ length: 8 }, (_, i) => 2e9 * 2 ** i);
  const gamma = {
    points: Ts.map((tokens) => ({ tokens, gamma: 4.6 * tokens ** -0.51 })),
    law: { a: 4.6, b: -0.51, aCI: [3.9, 5.4] as [number, number], bCI: [-0.55, -0.47] as [number, number], r2: 0.99 },
  };
  const curve = [
    {
      label: "trial",
      points: Array.from({ length: 5000 }, (_, s) => ({
        tokens: s * 1e5,
        trainLoss: 3 + 5 / Math.sqrt(s + 1),
        evalLoss: s % 100 === 0 ? 3.1 + 5 / Math.sqrt(s + 1) : null,
      })),
    },
  ];
  return {
    lossVsLr_8x12: time(() => lossVsLrChart(fig2), 200),
    gammaVsTokens_8: time(() => gammaVsTokensChart(gamma), 200),
    lossCurve_5000steps: time(() => lossCurveChart(curve), 50),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await run(), null, 2));
