// Corpus files named by a sweep document must be regular files inside the deployment's DATA_ROOTS
// (packages/data decides; workers check again where they open them). 422 naming the field.
import { corpusAccessProblems } from "@powersweep/data";
import type { Corpus } from "@powersweep/spec";
import { problem } from "./problem.ts";

export async function requireCorpusAccess(document: unknown, roots: readonly string[]): Promise<void> {
  const corpus = (document as { training?: { corpus?: Corpus } }).training?.corpus;
  if (!corpus) return;
  // a path missing on this host may exist on the workers: only its place is checked here
  const found = await corpusAccessProblems(corpus, roots, { mustExist: false });
  if (!found.length) return;
  const errors = found.map((p) => ({ path: `/training/corpus${p.pointer}`, message: p.message }));
  throw problem(422, "data-access", "Corpus file not allowed", `${errors[0]!.path}: ${errors[0]!.message}`, {
    errors,
  });
}
