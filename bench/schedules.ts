// Schedules: cost of one lr lookup (the trainer calls it every step) and of a 1000-point curve.
import { createSchedule, expectedLrCurve } from "@powersweep/schedules";
import type { ScheduleSpec } from "@powersweep/spec";

export async function run(): Promise<Record<string, unknown>> {
  const ctx = { totalTokens: 2e9, batchSize: 128 };
  const power: ScheduleSpec = {
    type: "power",
    powerA: 4,
    powerB: -0.51,
    etaMax: 0.02,
    warmupTokens: 1e8,
    decayFraction: 0.1,
    decayShape: "exponential",
  };
  const schedule = createSchedule(power, ctx);
  const calls = 1_000_000;
  let sink = 0;
  const started = performance.now();
  for (let i = 0; i < calls; i++) sink += schedule((ctx.totalTokens * i) / calls);
  const lookupNs = ((performance.now() - started) * 1e6) / calls;
  const curveStarted = performance.now();
  expectedLrCurve(power, ctx, 1000);
  const curveMs = performance.now() - curveStarted;
  return {
    powerLookupNsPerCall: Number(lookupNs.toFixed(1)),
    powerCurve1000PointsMs: Number(curveMs.toFixed(3)),
    checksum: Number(sink.toFixed(6)),
  };
}
