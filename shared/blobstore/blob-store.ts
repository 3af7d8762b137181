/**
 * Where uploaded image bytes live. Content-addressed (`sha256:<hex>`), so re-sent uploads store
 * nothing twice and a reference can never point at different bytes. The filesystem store is the
 * default; an object store (S3, GCS) implements the same interface.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface BlobStore {
  /** Stores the bytes (idempotently) and returns their reference. */
  put(bytes: Buffer): Promise<string>;
  /** The bytes of a reference; throws BlobNotFoundError if absent. */
  get(ref: string): Promise<Buffer>;
  has(ref: string): Promise<boolean>;
}

export class BlobNotFoundError extends Error {
  override name = 'BlobNotFoundError';
}

export function blobRefOf(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

const REF = /^sha256:([0-9a-f]{64})$/;

export class FilesystemBlobStore implements BlobStore {
  constructor(private readonly root: string) {}

  async put(bytes: Buffer): Promise<string> {
    const ref = blobRefOf(bytes);
    const path = this.pathOf(ref);
    if (await this.has(ref)) return ref;
    await mkdir(dirname(path), { recursive: true });
    // Write then rename: a reader never sees a half-written blob.
    const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temporary, bytes);
    await rename(temporary, path);
    return ref;
  }

  async get(ref: string): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(ref));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobNotFoundError(`no blob ${ref}`);
      throw error;
    }
  }

  async has(ref: string): Promise<boolean> {
    return stat(this.pathOf(ref)).then(
      () => true,
      () => false,
    );
  }

  private pathOf(ref: string): string {
    const hex = REF.exec(ref)?.[1];
    if (!hex) throw new Error(`not a blob reference: ${ref}`);
    return join(this.root, hex.slice(0, 2), hex.slice(2, 4), hex);
  }
}
