// Data for exec trainers: the Node side tokenises and splits the trial's corpus once (packages/data,
// so every backend sees the same train/test streams), writes both streams as little-endian binary
// token files into a cache directory, and the exec trainer only reads those files.
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { corpusAccessProblems, DataError, dataRootsFromEnv, loadDataset } from "@powersweep/data";
import type { TrialConfig } from "@powersweep/spec";
import { InvalidConfigError } from "./types.ts";

/** What the exec protocol's stdin JSON carries as `data`. */
export interface ExecData {
  trainPath: string;
  testPath: string;
  dtype: "uint16" | "uint32";
  vocabSize: number;
}

/** Cache root: POWERSWEEP_DATA_CACHE, else <tmpdir>/powersweep-data. */
export function execDataCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.POWERSWEEP_DATA_CACHE ?? join(tmpdir(), "powersweep-data");
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}

/** Text files are keyed by their paths, sizes and mtimes, so an edited file gets a fresh entry. */
async function cacheKey(config: TrialConfig): Promise<string> {
  const { corpus, tokenizer } = config;
  const files =
    corpus.type === "text-files"
      ? await Promise.all(
          corpus.paths.map(async (p) => {
            const s = await stat(p).catch(() => null);
            return [p, s?.size ?? -1, s?.mtimeMs ?? -1];
          }),
        )
      : [];
  return createHash("sha256")
    .update(JSON.stringify({ v: 1, corpus, tokenizer, files }))
    .digest("hex")
    .slice(0, 24);
}

/**
 * Token files for the trial's corpus. token-file corpora are passed through untouched; sotu and
 * text-files are tokenised by packages/data (same split as every other backend) and written once
 * per (corpus, tokenizer) under the cache directory.
 */
export async function prepareExecData(config: TrialConfig, cacheDir = execDataCacheDir()): Promise<ExecData> {
  const { corpus } = config;
  if (corpus.type === "token-file") {
    // the exec trainer opens these itself: check them here (DATA_ROOTS, regular files) first
    const problems = await corpusAccessProblems(corpus, dataRootsFromEnv());
    if (problems.length) throw new InvalidConfigError(`token-file: ${problems.map((p) => p.message).join("; ")}`);
    return { trainPath: corpus.trainPath, testPath: corpus.testPath, dtype: corpus.dtype, vocabSize: corpus.vocabSize };
  }
  const dir = join(cacheDir, await cacheKey(config));
  const trainPath = join(dir, "train.bin");
  const testPath = join(dir, "test.bin");
  const metaPath = join(dir, "meta.json");
  if (await exists(metaPath)) {
    const meta = JSON.parse(await readFile(metaPath, "utf8")) as ExecData;
    return { ...meta, trainPath, testPath };
  }
  let dataset: Awaited<ReturnType<typeof loadDataset>>;
  try {
    dataset = await loadDataset({ corpus, tokenizer: config.tokenizer });
  } catch (error) {
    if (error instanceof DataError) throw new InvalidConfigError(error.message);
    throw error;
  }
  // Uint16Array for vocab ≤ 65,536, Int32Array (non-negative ids, so the same bytes as uint32) above.
  const dtype = dataset.train instanceof Uint16Array ? "uint16" : "uint32";
  const bytes = (s: Uint16Array | Int32Array) => new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
  await mkdir(dir, { recursive: true });
  await writeAtomically(trainPath, bytes(dataset.train));
  await writeAtomically(testPath, bytes(dataset.test));
  const data: ExecData = { trainPath, testPath, dtype, vocabSize: dataset.vocabSize };
  await writeAtomically(metaPath, new TextEncoder().encode(JSON.stringify(data))); // last: marks the entry complete
  return data;
}
