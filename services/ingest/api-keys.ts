/**
 * API keys of ingest sources. Only the SHA-256 of each key is stored: keys are 32 random bytes, so
 * a fast hash is enough (no dictionary to attack) and keeps authentication off the hot path's
 * profile. Lookup compares the presented key's hash with EVERY stored hash in constant time, so
 * neither the match nor its position leaks through timing.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
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

/** Where a store's keys come from, so it can follow the keys file as keys are minted or revoked. */
interface KeySources {
  file: string;
  inline: readonly ApiKeyEntry[];
  /** A file that could not be read or parsed; the keys in use stay as they were. */
  onReloadError: (error: Error) => void;
  now: () => number;
}

/** How often, at most, the keys file is checked for changes (one stat). */
export const KEY_FILE_CHECK_MS = 1_000;

export class ApiKeyStore {
  private entries: Array<{ name: string; digest: Buffer }> = [];
  private fileVersion = '';
  private checkedAt = Number.NEGATIVE_INFINITY;

  /**
   * With `sources`, the keys file is re-read when it changes (checked at most once a second, as
   * requests arrive): a key minted with `mint-key --file` works, and a key removed from the file
   * stops working, without restarting ingest.
   */
  constructor(
    entries: readonly ApiKeyEntry[],
    private readonly sources?: KeySources,
  ) {
    this.replace(entries);
    if (sources) this.fileVersion = versionOf(sources.file);
  }

  get size(): number {
    return this.entries.length;
  }

  /** The name of the key, or undefined when it matches none. */
  authenticate(presented: string | undefined): string | undefined {
    this.followFile();
    if (!presented) return undefined;
    const digest = createHash('sha256').update(presented, 'utf8').digest();
    let match: string | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(digest, entry.digest) && match === undefined) match = entry.name;
    }
    return match;
  }

  private replace(entries: readonly ApiKeyEntry[]): void {
    const names = new Set(entries.map((e) => e.name));
    if (names.size !== entries.length) throw new Error('API key names must be unique');
    this.entries = entries.map((e) => ({ name: e.name, digest: Buffer.from(e.sha256, 'hex') }));
  }

  private followFile(): void {
    const sources = this.sources;
    if (!sources) return;
    const now = sources.now();
    if (now - this.checkedAt < KEY_FILE_CHECK_MS) return;
    this.checkedAt = now;
    const version = versionOf(sources.file);
    if (version === this.fileVersion) return;
    try {
      this.replace([...readKeyFile(sources.file, readFileSync(sources.file, 'utf8')), ...sources.inline]);
      this.fileVersion = version;
    } catch (error) {
      // A half-written or broken file must not lock every source out: keep the keys in use, and
      // try again when the file changes.
      this.fileVersion = version;
      sources.onReloadError(error as Error);
    }
  }
}

/** What identifies a version of the keys file (missing: empty). */
function versionOf(file: string): string {
  try {
    const stats = statSync(file);
    return `${stats.mtimeMs}:${stats.size}:${stats.ino}`;
  } catch {
    return '';
  }
}

function readKeyFile(file: string, text: string): ApiKeyEntry[] {
  const parsed = ApiKeyFile.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** Keys from INGEST_API_KEYS_FILE (followed as it changes) and/or INGEST_API_KEYS (`name:sha256,…`). */
export async function loadApiKeys(options: {
  file?: string;
  inline?: string;
  onReloadError?: (error: Error) => void;
  now?: () => number;
}): Promise<ApiKeyStore> {
  const inline: ApiKeyEntry[] = [];
  if (options.inline) {
    for (const pair of options.inline.split(',')) {
      const [name, sha256] = pair.trim().split(':');
      inline.push(ApiKeyEntry.parse({ name, sha256 }));
    }
  }
  if (!options.file) return new ApiKeyStore(inline);
  const fromFile = readKeyFile(options.file, await readFile(options.file, 'utf8'));
  return new ApiKeyStore([...fromFile, ...inline], {
    file: options.file,
    inline,
    onReloadError: options.onReloadError ?? (() => {}),
    now: options.now ?? Date.now,
  });
}
