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
import { ConfigError } from '../../shared/config/env.ts';

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
    if (names.size !== entries.length) {
      const repeated = [
        ...new Set(entries.map((e) => e.name).filter((name, i, all) => all.indexOf(name) !== i)),
      ];
      throw new Error(`API key names must be unique: ${repeated.join(', ')} more than once`);
    }
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
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not JSON (${(error as Error).message})`);
  }
  const parsed = ApiKeyFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    throw new Error(
      `${file}${where}: ${issue?.message} (a JSON array of { "name", "sha256" } entries, as \`trend-radar ingest mint-key --file\` writes)`,
    );
  }
  return parsed.data;
}

/**
 * `name:sha256hex,…`. A bad entry is named by its position, not shown: it may be a key itself,
 * pasted where its hash belongs.
 */
function parseInlineKeys(inline: string): ApiKeyEntry[] {
  const entries: ApiKeyEntry[] = [];
  const problems: string[] = [];
  const pairs = inline.split(',').map((pair) => pair.trim());
  pairs.forEach((pair, i) => {
    const which = `entry ${i + 1} of ${pairs.length}`;
    const colon = pair.indexOf(':');
    if (colon < 0) {
      problems.push(`${which} is not name:sha256hex (no colon; the value is not shown)`);
      return;
    }
    const parsed = ApiKeyEntry.safeParse({ name: pair.slice(0, colon), sha256: pair.slice(colon + 1) });
    if (parsed.success) entries.push(parsed.data);
    else
      problems.push(
        `${which}: ${parsed.error.issues.map((issue) => issue.message).join('; ')} (the key's SHA-256 as \`trend-radar ingest mint-key\` prints it, not the key)`,
      );
  });
  if (problems.length > 0)
    throw new ConfigError(
      `invalid configuration:\n${problems.map((problem) => `  INGEST_API_KEYS: ${problem}`).join('\n')}`,
    );
  return entries;
}

/** Keys from INGEST_API_KEYS_FILE (followed as it changes) and/or INGEST_API_KEYS (`name:sha256,…`). */
export async function loadApiKeys(options: {
  file?: string;
  inline?: string;
  onReloadError?: (error: Error) => void;
  now?: () => number;
}): Promise<ApiKeyStore> {
  const inline = options.inline ? parseInlineKeys(options.inline) : [];
  const variables = options.file ? 'INGEST_API_KEYS_FILE and INGEST_API_KEYS' : 'INGEST_API_KEYS';
  const invalid = (setting: string, error: unknown) =>
    new ConfigError(`invalid configuration:\n  ${setting}: ${(error as Error).message}`);
  if (!options.file) {
    try {
      return new ApiKeyStore(inline);
    } catch (error) {
      throw invalid(variables, error);
    }
  }
  let fromFile: ApiKeyEntry[];
  try {
    fromFile = readKeyFile(options.file, await readFile(options.file, 'utf8'));
  } catch (error) {
    throw invalid(`INGEST_API_KEYS_FILE=${JSON.stringify(options.file)}`, error);
  }
  try {
    return new ApiKeyStore([...fromFile, ...inline], {
      file: options.file,
      inline,
      onReloadError: options.onReloadError ?? (() => {}),
      now: options.now ?? Date.now,
    });
  } catch (error) {
    throw invalid(variables, error);
  }
}
