// `powersweep train --config trial.json`: one trial in-process, no queue, no database.
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import {
  type DocumentError,
  parseSweepDocument,
  parseText,
  schemaErrors,
  type TrialConfig,
  TrialConfigSchema,
} from "@powersweep/spec";
import { expandSweep, sweepSize } from "@powersweep/sweep";
import { createTrainer, InvalidConfigError } from "@powersweep/trainer";
import { CliError, EXIT_USAGE } from "../errors.ts";

function invalid(file: string, what: string, errors: DocumentError[]): CliError {
  const lines = errors
    .slice(0, 10)
    .map((e) => `  ${file}${e.line ? `:${e.line}` : ""}: ${e.path || "/"}: ${e.message}`);
  const more = errors.length > 10 ? `\n  … and ${errors.length - 10} more` : "";
  return new CliError(`${file} is not a valid ${what}:\n${lines.join("\n")}${more}`, EXIT_USAGE);
}

/**
 * The trial to train from a file: a trial config (YAML or JSON, docs/documents.md), or a sweep
 * document with `trial` picking one of its expanded trials (0-based, in `submit --dry-run` order).
 */
export function readTrialConfig(file: string, trial?: number): { config: TrialConfig; picked?: string } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new CliError(
      `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      EXIT_USAGE,
    );
  }
  // YAML is a superset of JSON, but JSON's own parser gives better messages for .json files.
  const contentType = extname(file).toLowerCase() === ".json" ? "application/json" : "application/yaml";
  const src = parseText(text, contentType);
  if (!src.ok) throw invalid(file, "trial config", src.errors);
  let value = src.value.value;
  // An exported trial file (`powersweep export`: ids, attempt and the config) runs its config.
  if (value && typeof value === "object" && "trialId" in value && "config" in value)
    value = (value as { config: unknown }).config;
  if (value && typeof value === "object" && "kind" in value) {
    const doc = parseSweepDocument(text, contentType);
    if (!doc.ok) throw invalid(file, "sweep document", doc.errors);
    if (doc.value.kind === "import")
      throw new CliError(`${file}: an import document holds results, not trials to train`, EXIT_USAGE);
    const count = sweepSize(doc.value).trials;
    const index = trial ?? 0;
    if (!Number.isInteger(index) || index < 0 || index >= count)
      throw new CliError(
        `--trial must be an integer from 0 to ${count - 1} (${file} expands to ${count} trials)`,
        EXIT_USAGE,
      );
    let i = 0;
    for (const t of expandSweep(doc.value)) {
      if (i++ === index) {
        const what = t.lr != null ? `lr ${t.lr}` : `a ${t.powerA} b ${t.powerB}`;
        return {
          config: t.config,
          picked: `trial ${index} of ${count}: ${t.model}, ${t.tokens} tokens, batch size ${t.batchSize} sequences, ${what}, seed ${t.seed}`,
        };
      }
    }
    throw new CliError(`--trial ${index}: ${file} has fewer distinct trials than its axes suggest`, EXIT_USAGE);
  }
  if (trial !== undefined)
    throw new CliError(`--trial applies to a sweep document; ${file} is a trial config`, EXIT_USAGE);
  const errors = schemaErrors(TrialConfigSchema, value).map((e) => {
    const line = src.value.lineOf(e.path);
    return line ? { ...e, line } : e;
  });
  if (errors.length) throw invalid(file, "trial config", errors);
  return { config: value as TrialConfig };
}

export async function train(o: { config: string; trial?: string; trainer: string; json?: boolean }) {
  const { config, picked } = readTrialConfig(o.config, o.trial === undefined ? undefined : Number(o.trial));
  if (picked && !o.json) console.log(picked);
  const trainer = await createTrainer(o.trainer);
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort("cancel"));
  const started = Date.now();
  try {
    const result = await trainer.runTrial(config, {
      signal: controller.signal,
      progressIntervalMs: 1000,
      onProgress: (p) => {
        if (o.json) console.log(JSON.stringify({ type: "progress", ...p }));
        else
          console.log(
            `step ${String(p.step).padStart(6)}  tokens ${p.tokens.toExponential(2)}  lr ${p.lr.toExponential(3)}  loss ${p.trainLoss.toFixed(4)}  ${Math.round(p.tokensPerSecond)} tok/s`,
          );
      },
    });
    if (o.json) return console.log(JSON.stringify({ type: "result", ...result }));
    console.log(
      `${result.status}: test loss ${result.testLoss?.toFixed(4) ?? "–"}, perplexity ${result.testPerplexity?.toFixed(2) ?? "–"}, train loss ${result.trainLoss?.toFixed(4) ?? "–"}, ${result.tokensSeen} tokens in ${((Date.now() - started) / 1000).toFixed(1)} s (${Math.round(result.tokensPerSecond)} tok/s, ${result.backend})${result.reason ? ` — ${result.reason}` : ""}`,
    );
  } catch (err) {
    if (err instanceof InvalidConfigError) throw new CliError(`${o.config}: invalid trial config: ${err.message}`);
    throw err;
  }
}
