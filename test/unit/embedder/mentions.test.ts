import { describe, expect, it } from 'vitest';
import { CatalogueMemory } from '../../../services/embedder/catalogue-memory.ts';
import { concurrencyLimit } from '../../../services/embedder/limit.ts';
import { mentionsFor } from '../../../services/embedder/mentions.ts';
import { Mention, type Upload } from '../../../shared/contracts/events.ts';

const upload: Upload = {
  eventId: 'evt-1',
  postId: 'post-1',
  memberId: 'member-1',
  images: [{ url: 'https://cdn.example.com/a.jpg' }, { blobRef: `sha256:${'a'.repeat(64)}` }],
  caption: '',
  hashtags: [],
  location: { country: 'GB', city: 'London' },
  clientTimestamp: '2026-11-20T10:00:00.000Z',
  receivedAt: '2026-11-20T10:00:01.000Z',
  source: 'test',
};
const context = {
  modelId: 'm1',
  policy: { threshold: 0.6, margin: 0.05 },
  keepCandidates: 2,
  now: new Date('2026-11-20T11:00:00Z'),
};
const vector = Float32Array.from([0.1234567891, 0.5]);

describe('mentionsFor', () => {
  it('emits one mention with a deterministic id when the best SKU clears threshold and margin', () => {
    const [mention, ...rest] = mentionsFor(
      {
        upload,
        imageIndex: 1,
        vector,
        candidates: [
          { sku: 'A', score: 0.9 },
          { sku: 'B', score: 0.7 },
        ],
      },
      context,
    );
    expect(rest).toEqual([]);
    expect(Mention.parse(mention)).toMatchObject({
      kind: 'mention',
      mentionId: 'evt-1:1:A',
      sku: 'A',
      score: 0.9,
      rank: 1,
      imageUrl: `blob:sha256:${'a'.repeat(64)}`,
      eventTime: upload.clientTimestamp,
      memberId: 'member-1',
      postId: 'post-1',
      modelId: 'm1',
      photoEmbedding: [0.123457, 0.5],
    });
  });

  it('emits one no-match with the top candidates when the score is too low or the lead too small', () => {
    const low = mentionsFor(
      {
        upload,
        imageIndex: 0,
        vector,
        candidates: [
          { sku: 'A', score: 0.5 },
          { sku: 'B', score: 0.1 },
          { sku: 'C', score: 0 },
        ],
      },
      context,
    );
    expect(low).toHaveLength(1);
    expect(Mention.parse(low[0])).toMatchObject({
      kind: 'no-match',
      mentionId: 'evt-1:0:none',
      imageUrl: 'https://cdn.example.com/a.jpg',
      candidates: [
        { sku: 'A', score: 0.5 },
        { sku: 'B', score: 0.1 },
      ],
    });
    const close = mentionsFor(
      {
        upload,
        imageIndex: 0,
        vector,
        candidates: [
          { sku: 'A', score: 0.9 },
          { sku: 'B', score: 0.88 },
        ],
      },
      context,
    );
    expect(close[0]!.kind).toBe('no-match');
    expect(mentionsFor({ upload, imageIndex: 0, vector, candidates: [] }, context)[0]!.kind).toBe('no-match');
  });
});

describe('CatalogueMemory', () => {
  const embedding = (sku: string, vector: number[], descriptor = 'd1') => ({
    sku,
    style: null,
    colour: null,
    name: null,
    category: null,
    brand: null,
    price: null,
    modelId: 'm1',
    descriptor,
    dimension: vector.length,
    views: [{ view: 'main', contentHash: 'f'.repeat(64), vector }],
    updatedAt: '2026-11-20T00:00:00.000Z',
  });

  it('adds, replaces and removes SKUs; refuses vectors of another descriptor or dimension', () => {
    const memory = new CatalogueMemory('m1', 'd1', 3);
    expect(memory.apply({ kind: 'upsert', sku: 'A', embedding: embedding('A', [1, 0, 0]) })).toBe('changed');
    expect(memory.apply({ kind: 'upsert', sku: 'B', embedding: embedding('B', [0, 1, 0]) })).toBe('changed');
    expect(
      memory.apply({ kind: 'upsert', sku: 'C', embedding: embedding('C', [0, 1, 0], 'd0') }),
    ).toHaveProperty('ignored');
    expect(memory.apply({ kind: 'upsert', sku: 'D', embedding: embedding('D', [0, 1]) })).toHaveProperty(
      'ignored',
    );
    expect(memory.skuCount).toBe(2);
    expect(memory.apply({ kind: 'remove', sku: 'A' })).toBe('changed');
    expect(memory.apply({ kind: 'remove', sku: 'A' })).toBe('unchanged');
    expect(memory.skuCount).toBe(1);
  });

  it('uses a legacy-key record only until the full-key record of the SKU arrives', () => {
    const memory = new CatalogueMemory('m1', 'd1', 3);
    const legacy = { kind: 'upsert', sku: 'A', embedding: embedding('A', [1, 0, 0]), legacy: true } as const;
    expect(memory.apply(legacy)).toBe('changed');
    expect(memory.skuCount).toBe(1);
    expect(memory.rebuild().search(Float32Array.from([1, 0, 0]), 1)).toHaveLength(0); // one view: no index
    expect(memory.apply({ kind: 'upsert', sku: 'A', embedding: embedding('A', [0, 1, 0]) })).toBe('changed');
    expect(memory.apply({ kind: 'upsert', sku: 'B', embedding: embedding('B', [0, 0, 1]) })).toBe('changed');
    // Partitions are read in any order: a legacy record read later does not replace the full one.
    expect(memory.apply(legacy)).toBe('unchanged');
    expect(memory.skuCount).toBe(2);
    expect(memory.rebuild().search(Float32Array.from([0, 1, 0.1]), 1)[0]!.sku).toBe('A');
    expect(memory.apply({ kind: 'remove', sku: 'A' })).toBe('changed');
    expect(memory.skuCount).toBe(1);
    // A legacy-key tombstone means the SKU left the catalogue (any sync version writes it then).
    expect(memory.apply({ kind: 'remove', sku: 'B', legacy: true })).toBe('changed');
    expect(memory.skuCount).toBe(0);
  });

  it('swaps in a rebuilt index only when asked, and only when something changed', () => {
    const memory = new CatalogueMemory('m1', 'd1', 3);
    const empty = memory.index;
    memory.apply({ kind: 'upsert', sku: 'A', embedding: embedding('A', [1, 0, 0]) });
    memory.apply({ kind: 'upsert', sku: 'B', embedding: embedding('B', [0, 1, 0]) });
    memory.apply({ kind: 'upsert', sku: 'C', embedding: embedding('C', [0, 0, 1]) });
    expect(memory.pending).toBe(true);
    expect(memory.index).toBe(empty);
    const built = memory.rebuild();
    expect(built.productCount).toBe(3);
    expect(memory.rebuild()).toBe(built);
    expect(built.search(Float32Array.from([0, 0.1, 1]), 1)[0]!.sku).toBe('C');
  });

  it('rebuilds on a worker thread: the old index serves meanwhile, later changes stay pending', async () => {
    const memory = new CatalogueMemory('m1', 'd1', 3);
    memory.apply({ kind: 'upsert', sku: 'A', embedding: embedding('A', [1, 0, 0]) });
    memory.apply({ kind: 'upsert', sku: 'B', embedding: embedding('B', [0, 1, 0]) });
    const empty = memory.index;
    const building = memory.rebuildInBackground();
    memory.apply({ kind: 'upsert', sku: 'C', embedding: embedding('C', [0, 0, 1]) });
    expect(memory.index).toBe(empty);
    const built = await building;
    expect(memory.index).toBe(built);
    expect(built.productCount).toBe(2);
    expect(memory.pending).toBe(true);
    const next = await memory.rebuildInBackground();
    expect(next.productCount).toBe(3);
    expect(memory.pending).toBe(false);
    expect(next.search(Float32Array.from([0, 0.1, 1]), 1)).toEqual(
      memory.rebuild().search(Float32Array.from([0, 0.1, 1]), 1),
    );
  });
});

describe('concurrencyLimit', () => {
  it('runs at most n tasks at once, in submission order, and passes results and errors through', async () => {
    const limit = concurrencyLimit(2);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const task = (i: number) => async () => {
      started.push(i);
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
      if (i === 3) throw new Error('three');
      return i * 10;
    };
    const results = await Promise.allSettled([0, 1, 2, 3, 4].map((i) => limit(task(i))));
    expect(peak).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      0,
      10,
      20,
      'three',
      40,
    ]);
  });
});
