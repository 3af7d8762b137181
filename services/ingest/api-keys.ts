/**
 * API keys of ingest sources. Only the SHA-256 of each key is stored: keys are 32 random bytes, so
 * a fast hash is enough (no dictionary to attack) and keeps authentication off the hot path's
 * profile. Lookup compares the presented key's hash with EVERY stored hash in constant time, so
 * neither the match nor its position leaks through timing.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

export const ApiKeyEntry = z.object({
  /** Becomes `source` on every event the key sends. */
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a key name is 1–64 letters, digits, . _ -'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256 is 64 lower-case hex digits'),
});
export type ApiKeyEntry = z.infer<typeof ApiKeyEntry>;

export const ApiKeyFile = z.array(ApiKeyEntry);

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new key for `name`: the secret (shown once) and the entry to store. */
export function mintApiKey(name: string): { key: string; entry: ApiKeyEntry } {
  const key = `trk_${randomBytes(32).toString('base64url')}`;
  return { key, entry: ApiKeyEntry.parse({ name, sha256: hashApiKey(key) }) };
}

export class ApiKeyStore {
  private readonly entries: Array<{ name: string; digest: Buffer }>;

  constructor(entries: readonly ApiKeyEntry[]) {
    const names = new Set(entries.map((e) => e.name));
    if (names.size !== entries.length) throw new Error('API key names must be unique');
    this.entries = entries.map((e) => ({ name: e.name, digest: Buffer.from(e.sha256, 'hex') }));
  }

  get size(): number {
    return this.entries.length;
  }

  /** The name of the key, or undefined when it matches none. */
  authenticate(presented: string | undefined): string | undefined {
    if (!presented) return undefined;
    const digest = createHash('sha256').update(presented, 'utf8').digest();
    let match: string | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(digest, entry.digest) && match === undefined) match = entry.name;
    }
    return match;
  }
}

/** Keys from INGEST_API_KEYS_FILE and/or INGEST_API_KEYS (`name:sha256,…`). */
export async function loadApiKeys(options: { file?: string; inline?: string }): Promise<ApiKeyStore> {
  const entries: ApiKeyEntry[] = [];
  if (options.file) {
    const parsed = ApiKeyFile.safeParse(JSON.parse(await readFile(options.file, 'utf8')));
    if (!parsed.success) throw new Error(`${options.file}: ${parsed.error.issues[0]?.message}`);
    entries.push(...parsed.data);
  }
  if (options.inline) {
    for (const pair of options.inline.split(',')) {
      const [name, sha256] = pair.trim().split(':');
      entries.push(ApiKeyEntry.parse({ name, sha256 }));
    }
  }
  return new ApiKeyStore(entries);
}
