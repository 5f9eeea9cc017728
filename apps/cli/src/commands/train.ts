// `powersweep train --config trial.json`: one trial in-process, no queue, no database.
import { readFileSync } from "node:fs";
import { type TrialConfig, TrialConfigSchema } from "@powersweep/spec";
import { createTrainer, InvalidConfigError } from "@powersweep/trainer";
import { Value } from "@sinclair/typebox/value";
import { CliError, EXIT_USAGE } from "../errors.ts";

export function readTrialConfig(file: string): TrialConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`, EXIT_USAGE);
  }
  // an exported trial file (powersweep export: ids, attempt and the config) runs its config
  if (raw && typeof raw === "object" && "trialId" in raw && "config" in raw) raw = (raw as { config: unknown }).config;
  const errors = [...Value.Errors(TrialConfigSchema, raw)];
  if (errors.length) {
    const lines = errors.slice(0, 10).map((e) => `  ${file}: ${e.path || "/"}: ${e.message}`);
    throw new CliError(`${file} is not a valid trial config:\n${lines.join("\n")}`);
  }
  return raw as TrialConfig;
}

export async function train(o: { config: string; trainer: string; json?: boolean }) {
  const config = readTrialConfig(o.config);
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
