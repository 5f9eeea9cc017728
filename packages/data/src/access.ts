// Which files a corpus may name: regular files inside the deployment's data roots (DATA_ROOTS),
// after every symlink is resolved. Checked when a sweep is submitted and again here, where files
// are opened (a worker never trusts the submission check alone). Opening uses O_NONBLOCK and
// fstat, so a FIFO or a device is refused instead of wedging the process; messages name paths,
// never file contents.
import { constants } from "node:fs";
import { type FileHandle, open, realpath, stat } from "node:fs/promises";
import { delimiter, isAbsolute, relative, resolve } from "node:path";
import type { Corpus } from "@powersweep/spec";
import { DataError } from "./errors.ts";

/** DATA_ROOTS as the process sees it: absolute directories separated by ":" (the path delimiter). */
export function dataRootsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.DATA_ROOTS ?? "")
    .split(delimiter)
    .map((r) => r.trim())
    .filter((r) => r && isAbsolute(r))
    .map((r) => resolve(r));
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}

function rootsText(roots: readonly string[]): string {
  return roots.length ? roots.join(", ") : "none";
}

/**
 * Why `path` may not be read as corpus data, or null when it may. `mustExist: false` (the API,
 * which may not see the workers' filesystem) lets a path that is missing here pass once it is
 * lexically inside a root; when it exists, it must resolve inside a root and be a regular file.
 */
export async function dataFileProblem(
  path: string,
  roots: readonly string[],
  { mustExist = true }: { mustExist?: boolean } = {},
): Promise<string | null> {
  if (!roots.length) return "file corpora are off on this deployment (DATA_ROOTS names no directory)";
  if (!isAbsolute(path)) return `must be an absolute path inside DATA_ROOTS (${rootsText(roots)})`;
  const lexical = resolve(path);
  if (!roots.some((r) => inside(r, lexical))) return `is outside DATA_ROOTS (${rootsText(roots)})`;
  let real: string;
  try {
    real = await realpath(lexical);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !mustExist) return null;
    return code === "ENOENT" ? "does not exist" : `cannot be read (${code ?? "error"})`;
  }
  const realRoots = await Promise.all(roots.map((r) => realpath(r).catch(() => r)));
  if (!realRoots.some((r) => inside(r, real)))
    return `resolves (through a symlink) outside DATA_ROOTS (${rootsText(roots)})`;
  const s = await stat(real).catch(() => null);
  if (!s) return "cannot be read";
  if (!s.isFile()) return `is not a regular file (${kind(s)})`;
  return null;
}

function kind(s: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}): string {
  if (s.isDirectory()) return "a directory";
  if (s.isFIFO()) return "a FIFO";
  if (s.isCharacterDevice() || s.isBlockDevice()) return "a device";
  if (s.isSocket()) return "a socket";
  return "not a file";
}

/** Every file path a corpus names, with its JSON-pointer under the corpus. */
export function corpusFiles(corpus: Corpus): Array<{ pointer: string; path: string }> {
  if (corpus.type === "token-file")
    return [
      { pointer: "/trainPath", path: corpus.trainPath },
      { pointer: "/testPath", path: corpus.testPath },
    ];
  if (corpus.type === "text-files") return corpus.paths.map((path, i) => ({ pointer: `/paths/${i}`, path }));
  return [];
}

/** The corpus's files that may not be read: [{ pointer under the corpus, message }]. */
export async function corpusAccessProblems(
  corpus: Corpus,
  roots: readonly string[],
  options: { mustExist?: boolean } = {},
): Promise<Array<{ pointer: string; message: string }>> {
  const out: Array<{ pointer: string; message: string }> = [];
  for (const { pointer, path } of corpusFiles(corpus)) {
    const problem = await dataFileProblem(path, roots, options);
    if (problem) out.push({ pointer, message: `${path} ${problem}` });
  }
  return out;
}

/**
 * Reads a corpus file the deployment allows (DATA_ROOTS from the environment unless given):
 * checked by path, opened without blocking and without following a final symlink, and checked
 * again on the open descriptor. `label` prefixes messages ("token-file", "text-files").
 */
export async function readDataFile(
  path: string,
  label: string,
  roots: readonly string[] = dataRootsFromEnv(),
): Promise<Buffer> {
  const problem = await dataFileProblem(path, roots);
  if (problem) throw new DataError(`${label}: ${path} ${problem}`);
  const real = await realpath(path);
  let handle: FileHandle | undefined;
  try {
    handle = await open(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    const s = await handle.stat();
    if (!s.isFile()) throw new DataError(`${label}: ${path} is not a regular file (${kind(s)})`);
    return await handle.readFile();
  } catch (error) {
    if (error instanceof DataError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new DataError(`${label}: cannot read ${path}${code ? ` (${code})` : ""}`);
  } finally {
    await handle?.close();
  }
}
