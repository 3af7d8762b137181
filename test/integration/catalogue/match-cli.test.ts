/**
 * `trend-radar match` and `trend-radar models pull` as a user runs them: the real CLI in a child
 * process, a small feed of real luma photos, the real model. No broker needed.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const luma = resolve(repo, '../shared/datasets/luma-catalogue');
const modelFile = resolve(repo, '../shared/models/squeezenet1.1/squeezenet1.1-embedding.onnx');

function cli(args: string[], env: Record<string, string> = {}) {
  return run(process.execPath, ['--import', 'tsx', resolve(repo, 'shared/cli/main.ts'), ...args], {
    cwd: repo,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    maxBuffer: 10 * 1024 * 1024,
  }).catch((error: { stdout: string; stderr: string; code: number }) => ({ ...error, failed: true }));
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'match-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('trend-radar match', () => {
  it('prints one JSON line per image: the right SKU first for a catalogue photo, no-match for a foreign object, an error for a broken file', async () => {
    // Every SKU's main view as the catalogue (whitening needs a catalogue-sized sample: on a handful
    // of products anything looks like a blend of them, see docs/matching.md); queried by one of them.
    const catalogue = JSON.parse(await readFile(join(luma, 'catalogue.json'), 'utf8')) as Array<{
      sku: string;
      images: Array<{ file: string; view: string }>;
    }>;
    const withBack = catalogue.filter((p) => p.images.some((i) => i.view === 'back'));
    const feed = catalogue
      .map((p) => ({
        ...p,
        images: p.images.filter((i) => i.view === 'main').map((i) => ({ ...i, file: join(luma, i.file) })),
      }))
      .filter((p) => p.images.length > 0);
    await writeFile(join(dir, 'feed.json'), JSON.stringify(feed));
    const query = join(luma, withBack[0]!.images.find((i) => i.view === 'main')!.file);
    const foreign = join(dir, 'foreign.png');
    await sharp({
      create: {
        width: 400,
        height: 400,
        channels: 3,
        background: '#f0f0f0',
        noise: { type: 'gaussian', mean: 90, sigma: 80 },
      },
    })
      .png()
      .toFile(foreign);
    const broken = join(dir, 'broken.jpg');
    await writeFile(broken, Buffer.from('not a jpeg at all'));

    const result = await cli([
      'match',
      '--catalogue',
      join(dir, 'feed.json'),
      '--top',
      '3',
      query,
      foreign,
      broken,
    ]);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({ image: query, decision: 'matched' });
    expect(lines[0].matches).toHaveLength(3);
    expect(lines[0].matches[0].sku).toBe(withBack[0]!.sku);
    expect(lines[0].matches[0].score).toBeGreaterThan(lines[0].matches[1].score);
    expect(lines[1]).toMatchObject({ image: foreign, decision: 'no-match' });
    expect(lines[1].matches).toHaveLength(3);
    expect(lines[2]).toMatchObject({ image: broken, decision: 'error', matches: [] });
    expect(lines[2].error).toMatch(/not a recognised image|unsupported/);
    // A broken input image makes the exit status non-zero, after every line was printed.
    expect((result as { code?: number }).code).toBe(1);
  });

  it('refuses bad options with a clear message', async () => {
    const result = await cli(['match', '--catalogue', join(dir, 'missing.json'), '--top', '0', 'x.jpg']);
    expect((result as { code?: number }).code).toBe(1);
    expect(result.stderr).toMatch(/--top must be an integer/);
  });
});

describe('trend-radar models pull', () => {
  it('installs the model from a directory after checking its sha256, and refuses a file with the wrong checksum', async () => {
    const into = join(dir, 'installed');
    const pulled = await cli(['models', 'pull', '--from', dirname(modelFile), '--into', into]);
    const line = JSON.parse(pulled.stdout.trim());
    const expected = createHash('sha256')
      .update(await readFile(modelFile))
      .digest('hex');
    expect(line).toMatchObject({ model: 'squeezenet1.1', sha256: expected, alreadyInstalled: false });
    expect(
      createHash('sha256')
        .update(await readFile(line.path))
        .digest('hex'),
    ).toBe(expected);

    const again = JSON.parse(
      (await cli(['models', 'pull', '--from', dirname(modelFile), '--into', into])).stdout.trim(),
    );
    expect(again.alreadyInstalled).toBe(true);

    const tampered = join(dir, 'tampered');
    await rm(tampered, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(tampered));
    await writeFile(join(tampered, 'squeezenet1.1-embedding.onnx'), Buffer.from('not the model'));
    const refused = await cli(['models', 'pull', '--from', tampered, '--into', join(dir, 'other')]);
    expect((refused as { code?: number }).code).toBe(1);
    expect(refused.stderr).toMatch(/checksum mismatch/);
  });
});
