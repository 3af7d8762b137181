import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BlobNotFoundError, blobRefOf, FilesystemBlobStore } from '../../../shared/blobstore/blob-store.ts';

let root: string | undefined;
afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('FilesystemBlobStore', () => {
  it('stores bytes under their content hash, once', async () => {
    root = await mkdtemp(join(tmpdir(), 'blobs-'));
    const store = new FilesystemBlobStore(root);
    const bytes = Buffer.from('a photo of red shoes');
    const ref = await store.put(bytes);
    expect(ref).toBe(blobRefOf(bytes));
    expect(ref).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await store.put(Buffer.from(bytes))).toBe(ref);
    expect((await store.get(ref)).equals(bytes)).toBe(true);
  });

  it('says clearly when a blob is missing or a reference is malformed', async () => {
    root = await mkdtemp(join(tmpdir(), 'blobs-'));
    const store = new FilesystemBlobStore(root);
    await expect(store.get(`sha256:${'0'.repeat(64)}`)).rejects.toBeInstanceOf(BlobNotFoundError);
    expect(await store.has(`sha256:${'0'.repeat(64)}`)).toBe(false);
    await expect(store.get('sha256:../../etc/passwd')).rejects.toThrow(/not a blob reference/);
  });
});
