// Corpus files a document may name: regular files inside DATA_ROOTS only. /etc/passwd, a FIFO, a
// device and a symlink out of a root are refused (a FIFO without wedging the reader), and no
// message carries a file's bytes.
import { execFileSync } from "node:child_process";
import { mkdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { corpusAccessProblems, DataError, dataFileProblem, loadDataset, readDataFile } from "../src/index.ts";
import { tempDir, tokenBytes } from "./helpers.ts";

let root: Awaited<ReturnType<typeof tempDir>>;
let outside: Awaited<ReturnType<typeof tempDir>>;
let roots: string[];
beforeAll(async () => {
  root = await tempDir();
  outside = await tempDir();
  roots = [root.dir];
  process.env.DATA_ROOTS = root.dir;
});
afterAll(async () => {
  await root.cleanup();
  await outside.cleanup();
});

const tokenFile = (trainPath: string, testPath: string) =>
  ({ type: "token-file", trainPath, testPath, dtype: "uint16", vocabSize: 256 }) as const;

describe("corpus files outside DATA_ROOTS", () => {
  it("/etc/passwd is refused, at submission and where it would be read", async () => {
    const ok = await root.write("ok.u16", tokenBytes([1, 2, 3], "uint16"));
    expect(await corpusAccessProblems(tokenFile("/etc/passwd", ok), roots, { mustExist: false })).toEqual([
      { pointer: "/trainPath", message: expect.stringMatching(/^\/etc\/passwd is outside DATA_ROOTS/) },
    ]);
    const load = loadDataset({ corpus: tokenFile("/etc/passwd", ok) });
    await expect(load).rejects.toThrow(DataError);
    await expect(load).rejects.toThrow(/\/etc\/passwd is outside DATA_ROOTS/);
    await expect(readDataFile("/etc/passwd", "text-files")).rejects.toThrow(/outside DATA_ROOTS/);
  });

  it("a relative path, or ../ out of a root, is refused", async () => {
    expect(await dataFileProblem("data/x.txt", roots, { mustExist: false })).toMatch(/absolute path/);
    expect(await dataFileProblem(`${root.dir}/../../etc/passwd`, roots, { mustExist: false })).toMatch(/outside/);
  });

  it("a symlink from inside a root to a file outside it is refused; one within the root is read", async () => {
    const secret = await outside.write("secret.txt", "do not read me");
    const link = join(root.dir, "innocent.txt");
    await symlink(secret, link);
    expect(await dataFileProblem(link, roots)).toMatch(/resolves \(through a symlink\) outside DATA_ROOTS/);
    await expect(readDataFile(link, "text-files")).rejects.toThrow(/through a symlink/);
    const inner = await root.write("inner.txt", "fine");
    await symlink(inner, join(root.dir, "alias.txt"));
    expect((await readDataFile(join(root.dir, "alias.txt"), "text-files")).toString()).toBe("fine");
  });

  it("without DATA_ROOTS, file corpora are off", async () => {
    expect(await dataFileProblem(`${root.dir}/ok.u16`, [])).toMatch(/DATA_ROOTS names no directory/);
  });
});

describe("non-regular files", () => {
  it("a FIFO is refused at once, without waiting for a writer", async () => {
    const fifo = join(root.dir, "pipe.txt");
    execFileSync("mkfifo", [fifo]);
    expect(await dataFileProblem(fifo, roots)).toBe("is not a regular file (a FIFO)");
    const other = await root.write("other.txt", "some text for the other document");
    // would hang forever if the FIFO were opened for a blocking read
    await expect(
      loadDataset({ corpus: { type: "text-files", paths: [fifo, other], testFraction: 0.5 } }),
    ).rejects.toThrow(/pipe\.txt is not a regular file \(a FIFO\)/);
  });

  it("a device or a directory is refused", async () => {
    await symlink("/dev/zero", join(root.dir, "zeros.u16"));
    // /dev/zero resolves outside the root; a root that holds it still refuses a device
    expect(await dataFileProblem(join(root.dir, "zeros.u16"), roots)).toMatch(/outside DATA_ROOTS/);
    expect(await dataFileProblem("/dev/zero", ["/dev"])).toBe("is not a regular file (a device)");
    await mkdir(join(root.dir, "sub"));
    expect(await dataFileProblem(join(root.dir, "sub"), roots)).toBe("is not a regular file (a directory)");
  });
});

it("a bad token file's message names the rule, never the file's bytes", async () => {
  // "hello" as uint16 ids: 0x6568 = 25960 ('he'), above vocabSize 256
  const text = await root.write("text-not-tokens.u16", "hello world!");
  const ok = await root.write("ok2.u16", tokenBytes([1, 2, 3], "uint16"));
  const error = await loadDataset({ corpus: tokenFile(text, ok) }).catch((e: Error) => e);
  expect(error).toBeInstanceOf(DataError);
  expect((error as Error).message).toMatch(/holds ids not below vocabSize 256/);
  for (const id of [25960, 27756, 8303]) expect((error as Error).message).not.toContain(String(id));
});
