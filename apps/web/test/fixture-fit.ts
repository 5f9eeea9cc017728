// The fixture sweep's fit, computed by packages/fit's real fitSweep on the synthetic rows
// (JSON round-tripped, as the fitter stores it and the API serves it).
import { fitSweep, type SweepFit } from "@powersweep/fit";
import type { FixtureTrial } from "./fixture-server.ts";

export function computeFixtureFit(trials: FixtureTrial[]): SweepFit {
  return JSON.parse(JSON.stringify(fitSweep(trials, { etaBootstrap: 100, lawBootstrap: 300, seed: 7 })));
}
