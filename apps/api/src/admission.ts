// What a deployment admits of a valid sweep document, beyond its schema: corpus files only inside
// DATA_ROOTS (packages/data decides; workers check again where they open them) and a trial time
// limit within TRIAL_MAX_SECONDS. 422 naming the field.
import { corpusAccessProblems } from "@powersweep/data";
import type { PowersweepConfig } from "@powersweep/runtime";
import type { Corpus } from "@powersweep/spec";
import { problem } from "./problem.ts";

export async function admitDocument(
  document: unknown,
  config: Pick<PowersweepConfig, "dataRoots" | "trialMaxSeconds">,
): Promise<void> {
  const doc = document as { training?: { corpus?: Corpus }; trialMaxSeconds?: number };
  const errors: Array<{ path: string; message: string }> = [];
  if (doc.trialMaxSeconds !== undefined && doc.trialMaxSeconds > config.trialMaxSeconds)
    errors.push({
      path: "/trialMaxSeconds",
      message: `at most ${config.trialMaxSeconds} s on this deployment (TRIAL_MAX_SECONDS)`,
    });
  const corpus = doc.training?.corpus;
  if (corpus) {
    // a path missing on this host may exist on the workers: only its place is checked here
    const found = await corpusAccessProblems(corpus, config.dataRoots, { mustExist: false });
    for (const p of found) errors.push({ path: `/training/corpus${p.pointer}`, message: p.message });
  }
  if (!errors.length) return;
  throw problem(422, "not-admitted", "Not allowed on this deployment", `${errors[0]!.path}: ${errors[0]!.message}`, {
    errors,
  });
}
