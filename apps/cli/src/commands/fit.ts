// `powersweep fit` and `powersweep predict`.
import { defaultWarmupTokens, type LrPrediction, powerSchedulerConfig, predictLr } from "@powersweep/fit";
import type { ScheduleSpec } from "@powersweep/spec";
import { num } from "../args.ts";
import { ApiClient, type ClientOptions } from "../client.ts";
import { CliError, EXIT_USAGE } from "../errors.ts";
import { formatFit } from "../fit-format.ts";

export async function fit(g: ClientOptions, id: string, o: { csv?: boolean; json?: boolean }) {
  const client = new ApiClient(g);
  if (o.csv) {
    process.stdout.write(await client.getFitCsv(id));
    return;
  }
  const result = await client.getFit(id);
  if (o.json) return console.log(JSON.stringify(result));
  console.log(
    `fit of sweep ${id} (${result.counts.used + (result.powerSweep?.rowsUsed ?? 0)} results; fitted ${result.createdAt})\n`,
  );
  console.log(formatFit(result));
}

interface PredictFlags {
  tokens: string;
  batchSize: string;
  sweep?: string;
  a?: string;
  b?: string;
  etaMax: string;
  warmupTokens?: string;
  json?: boolean;
}

type PredictOutput = LrPrediction & {
  law: { a: number; b: number };
  schedule: Extract<ScheduleSpec, { type: "power" }>;
  source: unknown;
};

export async function predict(g: ClientOptions, o: PredictFlags) {
  const tokens = num("tokens", o.tokens, { positive: true });
  const batchSize = num("batch-size", o.batchSize, { positive: true, integer: true });
  const etaMax = num("eta-max", o.etaMax, { positive: true });
  const warmupTokens = o.warmupTokens === undefined ? undefined : num("warmup-tokens", o.warmupTokens);
  let out: PredictOutput;
  if (o.a !== undefined || o.b !== undefined) {
    if (o.a === undefined || o.b === undefined) throw new CliError("--a and --b go together", EXIT_USAGE);
    if (o.sweep) throw new CliError("give either --sweep or --a/--b, not both", EXIT_USAGE);
    const law = { a: num("a", o.a, { positive: true }), b: num("b", o.b) };
    if (law.b >= 0) throw new CliError(`--b must be negative, got ${o.b}`, EXIT_USAGE);
    const p = predictLr({ tokens, batchSize, law, etaMax });
    const schedule = powerSchedulerConfig(law, { batchSize, etaMax, tokens, warmupTokens, decayFraction: 0.1 });
    out = { ...p, law, schedule, source: "given a and b" };
  } else if (o.sweep) {
    out = (await new ApiClient(g).predict({
      tokens,
      batchSize,
      sweep: o.sweep,
      etaMax,
      warmupTokens: warmupTokens ?? defaultWarmupTokens(tokens),
    })) as PredictOutput;
  } else {
    throw new CliError("give --sweep <id> or --a <a> --b <b>", EXIT_USAGE);
  }
  if (o.json) return console.log(JSON.stringify({ tokens, batchSize, ...out }));
  console.log(
    `η_opt = β·a·T^b = ${batchSize} sequences · ${out.law.a.toPrecision(4)} · (${tokens.toExponential(2)} tokens)^${out.law.b.toFixed(3)} = ${out.lr.toPrecision(3)} (peak lr of a WSD run)`,
  );
  console.log(
    out.ci95
      ? `95% interval: [${out.ci95[0].toPrecision(3)}, ${out.ci95[1].toPrecision(3)}]${out.df !== null && out.df !== undefined ? ` (Student-t, ${out.df} df, as the law's own interval)` : ""}`
      : "95% interval: – (no covariance for a given law)",
  );
  for (const w of out.warnings ?? []) console.log(`warning: ${w}`);
  const s = out.schedule;
  console.log(
    `Power scheduler (eq. 8) for ${tokens.toExponential(2)} tokens at ${batchSize} sequences per step: η(n) = min(η_max, β·a·n^b) with n in tokens, warmup ${s.warmupTokens.toExponential(2)} tokens, ${s.decayShape} decay over the last ${(s.decayFraction * 100).toFixed(0)}% of tokens`,
  );
  console.log(`  config: ${JSON.stringify(s)}`);
  if (out.powerASource) console.log(`  ${out.powerASource}`);
}
