import { describe, expect, it } from 'vitest';
import { IndexerEnv } from '../../../services/indexer/config.ts';
import { enrichAction, photoLink } from '../../../services/indexer/documents.ts';
import { actionFor } from '../../../services/indexer/handler.ts';
import { TrendWindow, Upload } from '../../../shared/contracts/events.ts';
import { encode } from '../../../shared/kafka/codec.ts';

const HEX = 'c'.repeat(64);

describe('photo links (INDEXER_PHOTO_BASE_URL)', () => {
  it('a blob reference under the base (as a directory), https/http as they are, nothing else', () => {
    expect(photoLink(`blob:sha256:${HEX}`, 'https://radar.example.com/inbox')).toBe(
      `https://radar.example.com/inbox/blobs/sha256/${HEX}`,
    );
    expect(photoLink(`blob:sha256:${HEX}`, 'https://radar.example.com/')).toBe(
      `https://radar.example.com/blobs/sha256/${HEX}`,
    );
    expect(photoLink(`blob:sha256:${HEX}`)).toBeUndefined();
    expect(photoLink('https://cdn.example.com/a.jpg')).toBe('https://cdn.example.com/a.jpg');
    expect(photoLink('http://cdn.example.com/a.jpg')).toBe('http://cdn.example.com/a.jpg');
    expect(photoLink('javascript:alert(1)')).toBeUndefined();
    expect(photoLink('blob:sha256:short', 'https://x.example.com/')).toBeUndefined();
  });

  it('the setting is an http(s) URL, optional', () => {
    const base = { KAFKA_BROKERS: 'k:9092', ELASTICSEARCH_URL: 'http://es:9200' };
    expect(IndexerEnv.parse(base).INDEXER_PHOTO_BASE_URL).toBeUndefined();
    expect(
      IndexerEnv.parse({ ...base, INDEXER_PHOTO_BASE_URL: 'https://radar.example.com/' })
        .INDEXER_PHOTO_BASE_URL,
    ).toBe('https://radar.example.com/');
    expect(IndexerEnv.safeParse({ ...base, INDEXER_PHOTO_BASE_URL: 'ftp://x.example.com/' }).success).toBe(
      false,
    );
  });
});

describe('the indexer adds country, photo links and uplift', () => {
  const upload: Upload = {
    eventId: 'e1',
    postId: 'p1',
    memberId: 'm1',
    images: [
      { blobRef: `sha256:${HEX}`, contentType: 'image/jpeg' },
      { url: 'https://cdn.example.com/b.jpg' },
    ],
    caption: 'x',
    hashtags: [],
    location: { country: 'FR', city: 'Paris' },
    clientTimestamp: '2026-01-01T10:00:00.000Z',
    receivedAt: '2026-01-01T10:00:00.000Z',
    source: 'app',
  } as Upload;

  it('posts: country and one link per browsable photo', () => {
    const withBase = actionFor(
      'uploads',
      'tr',
      { key: null, value: encode(Upload, upload) },
      {
        photoBaseUrl: 'https://r.example.com',
      },
    );
    expect(withBase).toMatchObject({
      document: {
        country: 'FR',
        imageUrls: [`blob:sha256:${HEX}`, 'https://cdn.example.com/b.jpg'],
        photoLinks: [`https://r.example.com/blobs/sha256/${HEX}`, 'https://cdn.example.com/b.jpg'],
      },
    });
    const without = actionFor('uploads', 'tr', { key: null, value: encode(Upload, upload) });
    expect(without).toMatchObject({ document: { photoLinks: ['https://cdn.example.com/b.jpg'] } });
  });

  it('trend windows: uplift = weightedCount / baseline, none without a baseline', () => {
    const window: TrendWindow = {
      windowId: 'w',
      sku: 'BAG-1',
      scope: 'country:FR',
      windowStart: '2026-01-01T10:00:00.000Z',
      windowEnd: '2026-01-01T11:00:00.000Z',
      sizeMs: 3_600_000,
      signals: 10,
      weightedCount: 45,
      distinctMembers: 5,
      countsByKind: {},
      baseline: 9,
      score: 1,
      pValue: 0.1,
      rising: false,
      category: 'Bags',
      emittedAt: '2026-01-01T11:00:00.000Z',
    };
    const action = actionFor('trend-windows', 'tr', { key: null, value: encode(TrendWindow, window) });
    expect(action).toMatchObject({ document: { uplift: 5, country: 'FR', category: 'bags' } });
    const zero = actionFor('trend-windows', 'tr', {
      key: null,
      value: encode(TrendWindow, { ...window, baseline: 0 }),
    });
    expect(zero.op === 'index' && 'uplift' in zero.document).toBe(false);
  });

  it('deletes pass through', () => {
    const del = { op: 'delete', family: 'catalogue', index: 'i', id: 'x' } as const;
    expect(enrichAction(del)).toBe(del);
  });
});
