import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiKeyStore, hashApiKey, loadApiKeys, mintApiKey } from '../../../services/ingest/api-keys.ts';
import { appendKeyEntry } from '../../../services/ingest/key-file.ts';

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
