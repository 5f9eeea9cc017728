// `powersweep curves <sweep>`: the loss-curve model's predictions for a schedule at T (the API's
// GET /v1/sweeps/:id/curves/predict): per (model, β, η) the predicted final loss with its 95%
// interval, η_opt per (model, β) from the predicted losses, and the WSD decay the law predicts best.
// Every number is a prediction and is printed as one.
import { num } from "../args.ts";
import { ApiClient, type ClientOptions } from "../client.ts";
import { CliError, EXIT_USAGE } from "../errors.ts";

export interface CurvesFlags {
  tokens: string;
  schedule: string;
  decayFraction?: string;
  decayShape?: string;
  warmupTokens?: string;
  law: string;
  model?: string;
  batchSize?: string;
  json?: boolean;
}

type Interval = [number, number] | null;
interface CurvesResponse {
  sweepId: string;
  tokens: number;
  law: string;
  groups: Array<{
    model: string;
    batchSize: number;
    lr: number;
    runs: number;
    error: string | null;
    fit: { testOffset: number | null; residualScale: number } | null;
    final: { trainLoss: number; testLoss: number | null; ci95: Interval } | null;
  }>;
  etaOpt: Array<{
    model: string;
    batchSize: number;
    etaOpt: number;
    ci95: Interval;
    lossAtOpt: number;
    extend: string | null;
  }>;
  advice: Array<{
    model: string;
    batchSize: number;
    lr: number;
    best: { schedule: Record<string, unknown>; loss: number };
    baseline: { schedule: Record<string, unknown>; loss: number };
    gain: number;
  }>;
}

const SCHEDULES = ["wsd", "cosine", "constant"];
const LAWS = ["multi-power", "tissue"];

/** The API query for the flags; errors name the flag. */
export function curvesQuery(o: CurvesFlags): URLSearchParams {
  const q = new URLSearchParams({ tokens: String(num("tokens", o.tokens, { positive: true })) });
  if (!SCHEDULES.includes(o.schedule))
    throw new CliError(`--schedule must be one of ${SCHEDULES.join(", ")}, got "${o.schedule}"`, EXIT_USAGE);
  q.set("schedule", o.schedule);
  if (!LAWS.includes(o.law)) throw new CliError(`--law must be one of ${LAWS.join(", ")}, got "${o.law}"`, EXIT_USAGE);
  q.set("law", o.law);
  if (o.decayFraction !== undefined) {
    const f = num("decay-fraction", o.decayFraction);
    if (f < 0 || f > 1) throw new CliError(`--decay-fraction must be in [0, 1], got ${o.decayFraction}`, EXIT_USAGE);
    q.set("decayFraction", String(f));
  }
  if (o.decayShape !== undefined) q.set("decayShape", o.decayShape);
  if (o.warmupTokens !== undefined) {
    const w = num("warmup-tokens", o.warmupTokens);
    if (w < 0) throw new CliError(`--warmup-tokens must be ≥ 0, got ${o.warmupTokens}`, EXIT_USAGE);
    q.set("warmupTokens", String(w));
  }
  if (o.model !== undefined) q.set("model", o.model);
  if (o.batchSize !== undefined)
    q.set("batchSize", String(num("batch-size", o.batchSize, { positive: true, integer: true })));
  return q;
}

const f4 = (v: number | null | undefined) => (v === null || v === undefined ? "–" : v.toFixed(4));
const ci = (c: Interval) => (c ? `[${c[0].toFixed(4)}, ${c[1].toFixed(4)}]` : "–");
const describe = (s: Record<string, unknown>) =>
  s.type === "wsd" ? `wsd ${Math.round(Number(s.decayFraction) * 100)}% ${s.decayShape}` : String(s.type);

export function formatCurves(r: CurvesResponse): string {
  const lines: string[] = [];
  lines.push(`PREDICTED by the ${r.law} law at T = ${r.tokens.toExponential(3)} tokens (not measured)`);
  lines.push("");
  lines.push(["model", "β", "η", "runs", "pred. test loss", "95% interval", "pred. train loss"].join("\t"));
  for (const g of r.groups) {
    if (!g.final) {
      lines.push([g.model, g.batchSize, g.lr.toPrecision(3), g.runs, `no fit: ${g.error}`].join("\t"));
      continue;
    }
    lines.push(
      [
        g.model,
        g.batchSize,
        g.lr.toPrecision(3),
        g.runs,
        f4(g.final.testLoss),
        ci(g.final.ci95),
        f4(g.final.trainLoss),
      ].join("\t"),
    );
  }
  if (r.etaOpt.length) {
    lines.push("");
    lines.push("predicted η_opt (from the predicted losses above)");
    lines.push(["model", "β", "η_opt", "95% CI", "loss at η_opt", "flag"].join("\t"));
    for (const e of r.etaOpt)
      lines.push(
        [
          e.model,
          e.batchSize,
          e.etaOpt.toPrecision(3),
          e.ci95 ? `[${e.ci95[0].toPrecision(3)}, ${e.ci95[1].toPrecision(3)}]` : "–",
          f4(e.lossAtOpt),
          e.extend ? `extend ${e.extend}` : "",
        ].join("\t"),
      );
  }
  if (r.advice.length) {
    lines.push("");
    lines.push("schedule advice (predicted final train loss at the best η group)");
    for (const a of r.advice)
      lines.push(
        `${a.model} β=${a.batchSize} η=${a.lr.toPrecision(3)}: best ${describe(a.best.schedule)} ${f4(a.best.loss)} vs wsd 10% exponential ${f4(a.baseline.loss)} (gain ${a.gain.toFixed(4)} nats)`,
      );
  }
  return lines.join("\n");
}

export async function curves(g: ClientOptions, id: string, o: CurvesFlags) {
  const q = curvesQuery(o);
  const result = await new ApiClient(g).get<CurvesResponse>(`/v1/sweeps/${encodeURIComponent(id)}/curves/predict?${q}`);
  if (o.json) return console.log(JSON.stringify(result));
  console.log(formatCurves(result));
}
