import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiKeyStore, hashApiKey, loadApiKeys, mintApiKey } from '../../../services/ingest/api-keys.ts';
import { appendKeyEntry } from '../../../services/ingest/key-file.ts';
import { explainError } from '../../../shared/cli/errors.ts';
import { ConfigError } from '../../../shared/config/env.ts';

describe('API keys', () => {
  it('mints random keys and stores only their hash', () => {
    const a = mintApiKey('phone-app');
    const b = mintApiKey('phone-app');
    expect(a.key).not.toBe(b.key);
    expect(a.key).toMatch(/^trk_[A-Za-z0-9_-]{43}$/);
    expect(a.entry).toEqual({ name: 'phone-app', sha256: hashApiKey(a.key) });
    expect(JSON.stringify(a.entry)).not.toContain(a.key.slice(4));
  });

  it('authenticates the right key to its name and nothing else', () => {
    const a = mintApiKey('phone-app');
    const b = mintApiKey('partner');
    const store = new ApiKeyStore([a.entry, b.entry]);
    expect(store.authenticate(a.key)).toBe('phone-app');
    expect(store.authenticate(b.key)).toBe('partner');
    expect(store.authenticate(`${a.key}x`)).toBeUndefined();
    expect(store.authenticate(a.entry.sha256)).toBeUndefined();
    expect(store.authenticate('')).toBeUndefined();
    expect(store.authenticate(undefined)).toBeUndefined();
  });

  it('refuses duplicate names and malformed entries', () => {
    const a = mintApiKey('same');
    expect(() => new ApiKeyStore([a.entry, mintApiKey('same').entry])).toThrow(/unique/);
    expect(() => mintApiKey('has space')).toThrow();
  });

  it('loads keys from a file written by mint-key and from the inline variable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keys-'));
    try {
      const file = join(dir, 'keys.json');
      const a = mintApiKey('phone-app');
      const b = mintApiKey('partner');
      await appendKeyEntry(file, a.entry);
      await expect(appendKeyEntry(file, a.entry)).rejects.toThrow(/already has/);
      expect(await readFile(file, 'utf8')).not.toContain(a.key);
      const store = await loadApiKeys({ file, inline: `partner:${b.entry.sha256}` });
      expect(store.size).toBe(2);
      expect(store.authenticate(a.key)).toBe('phone-app');
      expect(store.authenticate(b.key)).toBe('partner');
      await expect(loadApiKeys({ inline: 'partner:nothex' })).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('follows the keys file: a minted key works and a removed one stops, without a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keys-'));
    try {
      const file = join(dir, 'keys.json');
      const app = mintApiKey('phone-app');
      const simulator = mintApiKey('simulator');
      const inline = mintApiKey('partner');
      await appendKeyEntry(file, app.entry);
      let now = 0;
      const errors: string[] = [];
      const store = await loadApiKeys({
        file,
        inline: `partner:${inline.entry.sha256}`,
        now: () => now,
        onReloadError: (error) => errors.push(error.message),
      });
      expect(store.authenticate(simulator.key)).toBeUndefined();

      await appendKeyEntry(file, simulator.entry);
      now += 1_000;
      expect(store.authenticate(simulator.key)).toBe('simulator');
      expect(store.authenticate(inline.key)).toBe('partner');

      await writeFile(file, JSON.stringify([simulator.entry]));
      now += 500; // the file is looked at no more than once a second
      expect(store.authenticate(app.key)).toBe('phone-app');
      now += 500;
      expect(store.authenticate(app.key)).toBeUndefined();
      expect(store.authenticate(simulator.key)).toBe('simulator');

      // A broken file (half written, a typo) keeps the keys in use and says why.
      await writeFile(file, '[{"name": "simulator"');
      now += 1_000;
      expect(store.authenticate(simulator.key)).toBe('simulator');
      expect(store.authenticate(inline.key)).toBe('partner');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/JSON/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('API key settings that do not parse', () => {
  /** What `trend-radar ingest run` prints for loadApiKeys' error. */
  const printed = async (options: Parameters<typeof loadApiKeys>[0]) => {
    const error = await loadApiKeys(options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    return explainError(error);
  };

  it('INGEST_API_KEYS: names the variable and the entry, not a raw ZodError, and does not echo the value', async () => {
    const secret = mintApiKey('phone-app').key;
    const message = await printed({ inline: secret });
    expect(message).toContain('INGEST_API_KEYS: entry 1 of 1 is not name:sha256hex');
    expect(message).not.toContain(secret);
    expect(message).not.toMatch(/^\s*\[/);
    expect(await printed({ inline: 'garbage' })).toMatch(
      /^invalid configuration:\n {2}INGEST_API_KEYS: entry 1 of 1/,
    );

    const good = mintApiKey('partner').entry;
    const mixed = await printed({ inline: `partner:${good.sha256}, app:${secret}, bad name:${good.sha256}` });
    expect(mixed).toContain('INGEST_API_KEYS: entry 2 of 3: sha256 is 64 lower-case hex digits');
    expect(mixed).toContain('INGEST_API_KEYS: entry 3 of 3: a key name is 1–64 letters');
    expect(mixed).not.toContain(secret);

    expect(await printed({ inline: `same:${good.sha256},same:${good.sha256}` })).toContain(
      'INGEST_API_KEYS: API key names must be unique: same more than once',
    );
  });

  it('INGEST_API_KEYS_FILE: names the variable and the file when it is not JSON, not key entries, or missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keys-'));
    try {
      const file = join(dir, 'keys.json');
      await writeFile(file, "[{ name: 'phone-app' }]");
      const notJson = await printed({ file });
      expect(notJson).toContain(`INGEST_API_KEYS_FILE=${JSON.stringify(file)}: ${file} is not JSON (`);

      await writeFile(file, JSON.stringify([{ name: 'phone-app', sha256: 'nothex' }]));
      expect(await printed({ file })).toContain(
        `INGEST_API_KEYS_FILE=${JSON.stringify(file)}: ${file} at 0.sha256: sha256 is 64 lower-case hex digits`,
      );

      const missing = join(dir, 'missing.json');
      expect(await printed({ file: missing })).toMatch(
        new RegExp(
          `INGEST_API_KEYS_FILE=${JSON.stringify(missing).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ENOENT`,
        ),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
