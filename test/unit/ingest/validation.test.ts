import { describe, expect, it } from 'vitest';
import {
  isHeifContainer,
  itemsOfJsonBatch,
  itemsOfNdjsonBatch,
  sniffImageType,
  type ValidationContext,
  validateInteraction,
  validateUpload,
} from '../../../services/ingest/validation.ts';

const now = Date.parse('2026-03-01T12:00:00Z');
const context: ValidationContext = {
  now,
  maxFutureSkewMs: 60_000,
  maxEventAgeMs: 365 * 86_400_000,
  source: 'phone-app',
};
const like = {
  eventId: 'e-1',
  type: 'like',
  postId: 'p-1',
  memberId: 'm-1',
  timestamp: '2026-03-01T11:59:00Z',
};
const upload = {
  eventId: 'u-1',
  postId: 'p-1',
  memberId: 'm-1',
  images: [{ url: 'https://images.example.com/a.jpg' }],
  location: { country: 'IT', city: 'Milan' },
  clientTimestamp: '2026-03-01T11:00:00+01:00',
};

describe('validateInteraction', () => {
  it('accepts a valid interaction and stamps receivedAt and source', () => {
    const verdict = validateInteraction(like, context);
    expect(verdict).toEqual({
      ok: true,
      value: { ...like, receivedAt: '2026-03-01T12:00:00.000Z', source: 'phone-app' },
    });
  });

  it('ignores a client-supplied source or receivedAt', () => {
    const verdict = validateInteraction(
      { ...like, source: 'forged', receivedAt: '2020-01-01T00:00:00Z' },
      context,
    );
    expect(verdict.ok && verdict.value.source).toBe('phone-app');
    expect(verdict.ok && verdict.value.receivedAt).toBe('2026-03-01T12:00:00.000Z');
  });

  it.each([
    ['a wrong type', { ...like, postId: 7 }, /^postId: /],
    ['a missing field', { ...like, memberId: undefined }, /^memberId: /],
    ['an unknown event type', { ...like, type: 'poke' }, /^type: /],
    ['a timestamp without offset', { ...like, timestamp: '2026-03-01 11:59' }, /^timestamp: /],
    ['a timestamp in the future', { ...like, timestamp: '2026-03-01T12:05:00Z' }, /in the future/],
    [
      'a timestamp older than the topics keep',
      { ...like, timestamp: '2025-03-01T11:59:59Z' },
      /more than 365 days old/,
    ],
    ['an id with spaces', { ...like, eventId: 'a b' }, /^eventId: /],
    ['a country in lower case', { ...like, country: 'gb' }, /^country: /],
    ['not an object', 'like', /\(root\)/],
  ])('rejects %s with the field in the reason', (_label, item, reason) => {
    const verdict = validateInteraction(item, context);
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.reason).toMatch(reason);
  });
});

describe('validateUpload', () => {
  it('accepts a valid upload with defaults for caption and hashtags', () => {
    const verdict = validateUpload(upload, context);
    expect(verdict.ok && verdict.value).toMatchObject({ caption: '', hashtags: [], source: 'phone-app' });
  });

  it.each([
    ['a file: URL', { ...upload, images: [{ url: 'file:///etc/passwd' }] }, /https/],
    ['a javascript: URL', { ...upload, images: [{ url: 'javascript:alert(1)' }] }, /https/],
    [
      'an image with url and blobRef',
      { ...upload, images: [{ url: 'https://a.example/x.jpg', blobRef: `sha256:${'0'.repeat(64)}` }] },
      /exactly one/,
    ],
    ['no images', { ...upload, images: [] }, /^images: /],
    [
      'eleven images',
      { ...upload, images: new Array(11).fill({ url: 'https://a.example/x.jpg' }) },
      /^images: /,
    ],
    ['a hashtag with #', { ...upload, hashtags: ['#ootd'] }, /hashtag/],
    [
      'a latitude out of range',
      { ...upload, location: { country: 'IT', city: 'Milan', lat: 91 } },
      /location\.lat/,
    ],
    ['a bad clientTimestamp', { ...upload, clientTimestamp: 'tomorrow' }, /^clientTimestamp: /],
  ])('rejects %s', (_label, body, reason) => {
    const verdict = validateUpload(body, context);
    expect(!verdict.ok && verdict.reason).toMatch(reason);
  });
});

describe('hashtags', () => {
  it.each([
    ['a decomposed é', 'cafe\u0301', 'caf\u00e9'],
    ['Devanagari with vowel signs and virama', 'हिन्दी', 'हिन्दी'],
    ['Tamil with a pulli', 'தமிழ்', 'தமிழ்'],
    ['Thai', 'ภาษาไทย', 'ภาษาไทย'],
    ['digits and _', 'ootd_2026', 'ootd_2026'],
  ])('accepts %s, stored in NFC', (_label, tag, stored) => {
    const verdict = validateUpload({ ...upload, hashtags: [tag] }, context);
    expect(verdict.ok && verdict.value.hashtags).toEqual([stored]);
  });

  it.each([
    ['a lone combining mark', '\u0301'],
    ['a hashtag starting with a mark', '\u0301cafe'],
    ['a space', 'two words'],
    ['punctuation', 'ootd!'],
  ])('rejects %s', (_label, tag) => {
    const verdict = validateUpload({ ...upload, hashtags: [tag] }, context);
    expect(!verdict.ok && verdict.reason).toMatch(/^hashtags\.0: /);
  });
});

describe('server fields', () => {
  it('never yields a record the topic contract refuses (a blank source is refused, not produced)', () => {
    const blank = { ...context, source: '' };
    expect(validateInteraction(like, blank)).toMatchObject({ ok: false, reason: /^source: / });
    expect(validateUpload(upload, blank)).toMatchObject({ ok: false, reason: /^source: / });
  });
});

describe('batch bodies', () => {
  it('needs a non-empty JSON array within the limit', () => {
    expect(itemsOfJsonBatch({ ...like }, 10)).toMatchObject({ ok: false, reason: /JSON array/ });
    expect(itemsOfJsonBatch([], 10)).toMatchObject({ ok: false, reason: /empty/ });
    expect(itemsOfJsonBatch(new Array(11).fill(like), 10)).toMatchObject({
      ok: false,
      reason: /11 items.*10/,
    });
    expect(itemsOfJsonBatch([like, like], 10)).toMatchObject({
      ok: true,
      items: [{ ok: true }, { ok: true }],
    });
  });

  it('splits NDJSON into items and rejects a broken line alone, naming its physical line', () => {
    const text = `${JSON.stringify(like)}\n\n{"broken": \n${JSON.stringify(like)}`;
    const batch = itemsOfNdjsonBatch(text, 10);
    expect(batch.ok).toBe(true);
    if (!batch.ok) return;
    expect(batch.items.map((i) => i.ok)).toEqual([true, false, true]);
    // Line 3 of the body (the blank line 2 is skipped, not renumbered away).
    expect(batch.items[1]).toMatchObject({ ok: false, reason: /^line 3 is not JSON/ });
    const crlf = itemsOfNdjsonBatch(`\r\n${JSON.stringify(like)}\r\n \r\nnope\r\n`, 10);
    expect(crlf).toMatchObject({ ok: true, items: [{ ok: true }, { ok: false, reason: /^line 4 / }] });
    expect(itemsOfNdjsonBatch('\n \n', 10)).toMatchObject({ ok: false, reason: /empty/ });
    expect(itemsOfNdjsonBatch(`${JSON.stringify(like)}\n`.repeat(11), 10)).toMatchObject({ ok: false });
  });

  it('ignores a leading byte-order mark', () => {
    const batch = itemsOfNdjsonBatch(`\uFEFF${JSON.stringify(like)}\n${JSON.stringify(like)}\n`, 10);
    expect(batch).toMatchObject({
      ok: true,
      items: [
        { ok: true, item: like },
        { ok: true, item: like },
      ],
    });
  });
});

describe('sniffImageType', () => {
  it('recognises images by their bytes, not their name', () => {
    expect(sniffImageType(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0]))).toBe('image/jpeg');
    expect(sniffImageType(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10, 0]))).toBe('image/png');
    expect(sniffImageType(Buffer.from('RIFF\0\0\0\0WEBPVP8 '))).toBe('image/webp');
    expect(sniffImageType(Buffer.from('\0\0\0\x18ftypheic'))).toBe('image/heic');
    expect(sniffImageType(Buffer.from('<svg onload="alert(1)">'))).toBeUndefined();
    expect(sniffImageType(Buffer.alloc(0))).toBeUndefined();
  });

  it('tells AVIF from HEIC by the brand; both are HEIF containers, checked against the decoder', () => {
    const avif = Buffer.from('\0\0\0\x1cftypavif\0\0\0\0mif1miaf');
    const heic = Buffer.from('\0\0\0\x1cftypheic\0\0\0\0mif1heic');
    expect(sniffImageType(avif)).toBe('image/avif');
    expect(sniffImageType(heic)).toBe('image/heic');
    expect(isHeifContainer('image/avif')).toBe(true);
    expect(isHeifContainer('image/heic')).toBe(true);
    expect(isHeifContainer('image/jpeg')).toBe(false);
  });
});
