// Backend-agnostic checkpoint format: a directory holding
//   checkpoint.json   manifest: format, version, the trainer's metadata, and the tensor index
//   <weightsFile>     all tensors as little-endian float32, concatenated in manifest order
// Written atomically: the weights file (named per save) and then the manifest are each written to
// a temp file and renamed into place, so a reader sees either the old or the new checkpoint, never
// a mix. The previous weights file is removed after the new manifest is in place.
import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export const CHECKPOINT_MANIFEST = "checkpoint.json";
const FORMAT = "powersweep-checkpoint";
const VERSION = 1;

export interface CheckpointTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface Checkpoint<Meta> {
  meta: Meta;
  tensors: CheckpointTensor[];
}

interface Manifest<Meta> {
  format: typeof FORMAT;
  version: number;
  weightsFile: string;
  meta: Meta;
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
}

async function writeAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const temp = `${path}.tmp-${randomUUID()}`;
  await writeFile(temp, data);
  await rename(temp, path);
}

export async function saveCheckpoint<Meta>(dir: string, checkpoint: Checkpoint<Meta>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const previous = await readManifest<Meta>(dir).catch(() => null);
  let offset = 0;
  const index = checkpoint.tensors.map((t) => {
    const length = t.data.length;
    const expected = t.shape.reduce((a, b) => a * b, 1);
    if (expected !== length)
      throw new Error(`checkpoint tensor ${t.name}: shape ${t.shape} has ${expected} values, data has ${length}`);
    const entry = { name: t.name, shape: t.shape, offset, length };
    offset += length;
    return entry;
  });
  const all = new Float32Array(offset);
  checkpoint.tensors.forEach((t, i) => {
    all.set(t.data, (index[i] as { offset: number }).offset);
  });
  const bytes = new Uint8Array(all.buffer);
  if (!littleEndian()) swapBytes32(bytes);
  const weightsFile = `weights-${randomUUID()}.bin`;
  await writeAtomically(join(dir, weightsFile), bytes);
  const manifest: Manifest<Meta> = {
    format: FORMAT,
    version: VERSION,
    weightsFile,
    meta: checkpoint.meta,
    tensors: index,
  };
  await writeAtomically(join(dir, CHECKPOINT_MANIFEST), JSON.stringify(manifest, null, 1));
  if (previous && previous.weightsFile !== weightsFile) await rm(join(dir, previous.weightsFile), { force: true });
}

/**
 * A whole checkpoint directory written at once (branch checkpoints, docs/branches.md): the checkpoint
 * goes into a temp directory beside `dir`, which is then renamed to `dir`, so a reader (or an object
 * store syncing the directory) sees a complete checkpoint or none. A directory already at `dir` (left
 * by an earlier attempt) is replaced.
 */
export async function saveCheckpointDir<Meta>(dir: string, checkpoint: Checkpoint<Meta>): Promise<void> {
  const temp = join(dirname(dir), `.${basename(dir)}.tmp-${randomUUID()}`);
  try {
    await saveCheckpoint(temp, checkpoint);
    await rm(dir, { recursive: true, force: true });
    await rename(temp, dir);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}

async function readManifest<Meta>(dir: string): Promise<Manifest<Meta>> {
  const manifest = JSON.parse(await readFile(join(dir, CHECKPOINT_MANIFEST), "utf8")) as Manifest<Meta>;
  if (manifest.format !== FORMAT || manifest.version !== VERSION) {
    throw new Error(`${dir}: not a ${FORMAT} v${VERSION} checkpoint`);
  }
  return manifest;
}

/** The checkpoint in dir, or null when the directory has none. */
export async function loadCheckpoint<Meta>(dir: string): Promise<Checkpoint<Meta> | null> {
  const files = await readdir(dir).catch(() => [] as string[]);
  if (!files.includes(CHECKPOINT_MANIFEST)) return null;
  const manifest = await readManifest<Meta>(dir);
  const buffer = await readFile(join(dir, manifest.weightsFile));
  const bytes = new Uint8Array(buffer.byteLength);
  bytes.set(buffer);
  if (!littleEndian()) swapBytes32(bytes);
  const all = new Float32Array(bytes.buffer);
  const tensors = manifest.tensors.map((t) => {
    if (t.offset + t.length > all.length) throw new Error(`${dir}: weights file is truncated (${t.name})`);
    return { name: t.name, shape: t.shape, data: all.slice(t.offset, t.offset + t.length) };
  });
  return { meta: manifest.meta, tensors };
}

function littleEndian(): boolean {
  return new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
}

function swapBytes32(bytes: Uint8Array): void {
  for (let i = 0; i + 3 < bytes.length; i += 4) {
    const a = bytes[i] as number;
    const b = bytes[i + 1] as number;
    bytes[i] = bytes[i + 3] as number;
    bytes[i + 1] = bytes[i + 2] as number;
    bytes[i + 2] = b;
    bytes[i + 3] = a;
  }
}
