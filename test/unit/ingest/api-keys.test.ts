import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
});
