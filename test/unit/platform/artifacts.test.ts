import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureVerifiedFile } from '../../../shared/stack/artifacts.ts';

const GOOD = Buffer.from('the whole distribution');
const sha256 = createHash('sha256').update(GOOD).digest('hex');

describe('ensureVerifiedFile: a damaged download in the artifact cache is repaired', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  const setup = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tr-artifacts-'));
    dirs.push(dir);
    const downloads = join(dir, 'downloads');
    await mkdir(downloads);
    const file = join(downloads, 'dist.zip');
    const log: string[] = [];
    const fetches: string[] = [];
    const fetchWith = (content: Buffer) => async (into: string) => {
      fetches.push(into);
      await writeFile(join(into, 'dist.zip'), content);
    };
    return { downloads, file, log, fetches, fetchWith };
  };

  it('keeps a cached file whose checksum matches, without fetching', async () => {
    const { file, log, fetches, fetchWith } = await setup();
    await writeFile(file, GOOD);
    await ensureVerifiedFile({ file, sha256, fetchInto: fetchWith(GOOD), log: (l) => log.push(l) });
    expect(fetches).toEqual([]);
    expect(log).toEqual([]);
  });

  it('deletes a truncated cached file, fetches it again once, and says so', async () => {
    const { file, downloads, log, fetches, fetchWith } = await setup();
    await writeFile(file, GOOD.subarray(0, 5)); // a download cut short
    const result = await ensureVerifiedFile({
      file,
      sha256,
      fetchInto: fetchWith(GOOD),
      log: (l) => log.push(l),
    });
    expect(result).toBe(file);
    expect(await readFile(file)).toEqual(GOOD);
    expect(fetches).toHaveLength(1);
    expect(log[0]).toMatch(
      /^the cached .*dist\.zip is damaged \(checksum mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}\): deleting it and fetching it again$/,
    );
    // The fetch happened in a temporary folder that is gone again.
    expect(fetches[0]).not.toBe(downloads);
    expect(await readdir(downloads)).toEqual(['dist.zip']);
  });

  it('leaves nothing behind when the fresh copy is damaged too, and says where to look', async () => {
    const { file, downloads, fetchWith } = await setup();
    await expect(
      ensureVerifiedFile({ file, sha256, fetchInto: fetchWith(Buffer.from('wrong')), log: () => {} }),
    ).rejects.toThrow(/checksum mismatch for dist\.zip after a fresh fetch: .*Maven's local repository/);
    expect(existsSync(file)).toBe(false);
    expect(await readdir(downloads)).toEqual([]);
  });

  it('leaves nothing behind when the fetch fails half-way', async () => {
    const { file, downloads } = await setup();
    await expect(
      ensureVerifiedFile({
        file,
        sha256,
        fetchInto: async (into) => {
          await writeFile(join(into, 'dist.zip'), GOOD.subarray(0, 3));
          throw new Error('mvn exited 1');
        },
        log: () => {},
      }),
    ).rejects.toThrow('mvn exited 1');
    expect(await readdir(downloads)).toEqual([]);
  });
});
