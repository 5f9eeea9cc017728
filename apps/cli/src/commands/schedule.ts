// `powersweep schedule`: the LR curve the trainer would use, from packages/schedules itself.

import { expectedLrCurve } from "@powersweep/schedules";
import type { ScheduleSpec } from "@powersweep/spec";
import { num } from "../args.ts";
import { CliError, EXIT_USAGE } from "../errors.ts";

export interface ScheduleFlags {
  type: ScheduleSpec["type"];
  tokens: string;
  lr?: string;
  a: string;
  b: string;
  etaMax: string;
  batchSize: string;
  warmupTokens: string;
  decayFraction: string;
  decayShape: "exponential" | "linear" | "cosine" | "one-minus-sqrt";
  minLrRatio: string;
  points: string;
  csv?: boolean;
  json?: boolean;
}

export function scheduleSpecFromFlags(o: ScheduleFlags): ScheduleSpec {
  const warmupTokens = num("warmup-tokens", o.warmupTokens);
  const lr = () => {
    if (o.lr === undefined) throw new CliError(`--lr is required for --type ${o.type}`, EXIT_USAGE);
    return num("lr", o.lr, { positive: true });
  };
  switch (o.type) {
    case "constant":
      return { type: "constant", lr: lr(), warmupTokens };
    case "cosine":
      return { type: "cosine", lr: lr(), warmupTokens, minLrRatio: num("min-lr-ratio", o.minLrRatio) };
    case "wsd":
      return {
        type: "wsd",
        lr: lr(),
        warmupTokens,
        decayFraction: num("decay-fraction", o.decayFraction),
        decayShape: o.decayShape,
      };
    case "power":
      return {
        type: "power",
        powerA: num("a", o.a, { positive: true }),
        powerB: num("b", o.b),
        etaMax: num("eta-max", o.etaMax, { positive: true }),
        warmupTokens,
        decayFraction: num("decay-fraction", o.decayFraction),
        decayShape: o.decayShape,
      };
  }
}

export async function schedule(o: ScheduleFlags) {
  const spec = scheduleSpecFromFlags(o);
  const totalTokens = num("tokens", o.tokens, { positive: true });
  const batchSize = num("batch-size", o.batchSize, { positive: true, integer: true });
  const points = num("points", o.points, { positive: true, integer: true });
  let curve: Array<{ tokens: number; lr: number }>;
  try {
    curve = expectedLrCurve(spec, { totalTokens, batchSize }, points);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT_USAGE);
  }
  if (o.json) return console.log(JSON.stringify({ schedule: spec, totalTokens, batchSize, curve }));
  if (o.csv) {
    console.log("tokens,lr");
    for (const p of curve) console.log(`${p.tokens},${p.lr}`);
    return;
  }
  console.log(`${"tokens".padStart(14)}  lr`);
  for (const p of curve) console.log(`${p.tokens.toExponential(3).padStart(14)}  ${p.lr.toExponential(4)}`);
}
