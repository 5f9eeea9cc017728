import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh temp directory under os.tmpdir(); call `cleanup()` in afterAll. */
export async function tempDir(): Promise<{
  dir: string;
  write(name: string, content: string | Uint8Array): Promise<string>;
  cleanup(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), "powersweep-data-"));
  return {
    dir,
    async write(name, content) {
      const path = join(dir, name);
      await writeFile(path, content);
      return path;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Little-endian bytes of token ids. */
export function tokenBytes(ids: readonly number[], dtype: "uint16" | "uint32"): Uint8Array {
  const width = dtype === "uint16" ? 2 : 4;
  const view = new DataView(new ArrayBuffer(ids.length * width));
  ids.forEach((id, i) => {
    if (width === 2) view.setUint16(i * 2, id, true);
    else view.setUint32(i * 4, id, true);
  });
  return new Uint8Array(view.buffer);
}
