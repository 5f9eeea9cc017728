// `powersweep fit` and `powersweep predict`.
import { type PowerLaw, powerSchedulerConfig, predictLr, type SweepFit } from "@powersweep/fit";
import { num } from "../args.ts";
import { ApiClient, type ClientOptions } from "../client.ts";
import { CliError, EXIT_USAGE } from "../errors.ts";
import { formatFit } from "../fit-format.ts";

export async function fit(g: ClientOptions, id: string, o: { csv?: boolean; json?: boolean }) {
  const client = new ApiClient(g);
  if (o.csv) {
    process.stdout.write(await client.getText(`/v1/sweeps/${encodeURIComponent(id)}/fit?format=csv`));
    return;
  }
  const result = await client.get<SweepFit & { createdAt: string }>(`/v1/sweeps/${encodeURIComponent(id)}/fit`);
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
  json?: boolean;
}

export async function predict(g: ClientOptions, o: PredictFlags) {
  const tokens = num("tokens", o.tokens, { positive: true });
  const batchSize = num("batch-size", o.batchSize, { positive: true, integer: true });
  const etaMax = num("eta-max", o.etaMax, { positive: true });
  let out: {
    lr: number;
    ci95: [number, number] | null;
    law: { a: number; b: number };
    schedule: unknown;
    source: unknown;
  };
  if (o.a !== undefined || o.b !== undefined) {
    if (o.a === undefined || o.b === undefined) throw new CliError("--a and --b go together", EXIT_USAGE);
    if (o.sweep) throw new CliError("give either --sweep or --a/--b, not both", EXIT_USAGE);
    const law = { a: num("a", o.a, { positive: true }), b: num("b", o.b) };
    if (law.b >= 0) throw new CliError(`--b must be negative, got ${o.b}`, EXIT_USAGE);
    const p = predictLr({ tokens, batchSize, law });
    const schedule = powerSchedulerConfig(law as PowerLaw, { batchSize, etaMax, warmupTokens: 0, decayFraction: 0.1 });
    out = { lr: p.lr, ci95: p.ci95, law, schedule, source: "given a and b" };
  } else if (o.sweep) {
    const q = new URLSearchParams({
      tokens: String(tokens),
      batchSize: String(batchSize),
      sweep: o.sweep,
      etaMax: String(etaMax),
    });
    out = await new ApiClient(g).get(`/v1/predict?${q}`);
  } else {
    throw new CliError("give --sweep <id> or --a <a> --b <b>", EXIT_USAGE);
  }
  if (o.json) return console.log(JSON.stringify({ tokens, batchSize, ...out }));
  console.log(
    `η_opt = β·a·T^b = ${batchSize}·${out.law.a.toPrecision(4)}·(${tokens.toExponential(2)})^${out.law.b.toFixed(3)} = ${out.lr.toPrecision(3)}`,
  );
  console.log(
    out.ci95
      ? `95% interval: [${out.ci95[0].toPrecision(3)}, ${out.ci95[1].toPrecision(3)}]`
      : "95% interval: – (no covariance for a given law)",
  );
  console.log(`Power scheduler (eq. 8) config: ${JSON.stringify(out.schedule)}`);
}
