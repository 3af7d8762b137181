import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { asyncApiDocument, topicJsonSchemas } from '../../../shared/contracts/documents.ts';
import { Interaction, Mention, Upload } from '../../../shared/contracts/events.ts';
import { TOPICS, topicName, topicSpec } from '../../../shared/contracts/topics.ts';
import { decode, encode, InvalidRecordError } from '../../../shared/kafka/codec.ts';

const upload = {
  eventId: 'up-1',
  postId: 'post-1',
  memberId: 'm-1',
  images: [{ url: 'https://cdn.example.com/a.jpg' }],
  location: { country: 'IT', city: 'Milan', lat: 45.46, lon: 9.19 },
  clientTimestamp: '2026-03-01T10:00:00+01:00',
  receivedAt: '2026-03-01T09:00:01Z',
  source: 'app',
};

describe('topic contracts', () => {
  it('names topics with their version and namespace', () => {
    expect(topicName('uploads', 'trendradar')).toBe('trendradar.uploads.v1');
    expect(new Set(TOPICS.map((t) => t.id)).size).toBe(TOPICS.length);
  });

  it('co-partitions posts and their interactions and mentions', () => {
    const partitions = ['uploads', 'interactions', 'mentions'].map(
      (id) => topicSpec(id as 'uploads').partitions,
    );
    expect(new Set(partitions).size).toBe(1);
  });

  it('compacts the catalogue and inventory topics and deletes by retention elsewhere', () => {
    expect(topicSpec('catalogue-embeddings').config['cleanup.policy']).toBe('compact');
    expect(topicSpec('inventory').config['cleanup.policy']).toBe('compact');
    expect(topicSpec('uploads').config['cleanup.policy']).toBe('delete');
  });

  it('round-trips a valid upload and fills defaults', () => {
    const decoded = decode(Upload, encode(Upload, upload));
    expect(decoded.hashtags).toEqual([]);
    expect(decoded.caption).toBe('');
    expect(decoded.location.city).toBe('Milan');
  });

  it('rejects an image with both or neither of url and blobRef', () => {
    const both = {
      ...upload,
      images: [{ url: 'https://a.example/x.jpg', blobRef: `sha256:${'a'.repeat(64)}` }],
    };
    expect(() => encode(Upload, both)).toThrow(/exactly one of url or blobRef/);
    expect(() => encode(Upload, { ...upload, images: [{}] })).toThrow(InvalidRecordError);
  });

  it('rejects non-https image URLs, bad countries and unknown interaction types with the field named', () => {
    expect(() => encode(Upload, { ...upload, images: [{ url: 'http://a.example/x.jpg' }] })).toThrow(
      /images.0.url/,
    );
    expect(() => encode(Upload, { ...upload, location: { country: 'Italy', city: 'Milan' } })).toThrow(
      /location.country/,
    );
    const like = {
      eventId: 'e',
      type: 'poke',
      postId: 'p',
      memberId: 'm',
      timestamp: '2026-03-01T10:00:00Z',
      receivedAt: '2026-03-01T10:00:00Z',
      source: 's',
    };
    expect(() => decode(Interaction, Buffer.from(JSON.stringify(like)))).toThrow(/type/);
  });

  it('tells a mention from a no-match record', () => {
    const base = {
      mentionId: 'up-1:0:none',
      uploadEventId: 'up-1',
      postId: 'post-1',
      memberId: 'm-1',
      imageIndex: 0,
      imageUrl: 'https://cdn.example.com/a.jpg',
      location: upload.location,
      eventTime: '2026-03-01T09:00:00Z',
      modelId: 'squeezenet1.1',
      processedAt: '2026-03-01T09:00:02Z',
    };
    expect(
      decode(Mention, Buffer.from(JSON.stringify({ ...base, kind: 'no-match', candidates: [] }))).kind,
    ).toBe('no-match');
    expect(() => decode(Mention, Buffer.from(JSON.stringify({ ...base, kind: 'mention' })))).toThrow(/sku/);
  });

  it('keeps the committed JSON Schemas and AsyncAPI document in step with the code (run `trend-radar contracts`)', () => {
    for (const [file, schema] of Object.entries(topicJsonSchemas())) {
      const committed = JSON.parse(
        readFileSync(new URL(`../../../docs/contracts/schemas/${file}`, import.meta.url), 'utf8'),
      );
      expect(committed, file).toEqual(JSON.parse(JSON.stringify(schema)));
    }
    const committed = JSON.parse(
      readFileSync(new URL('../../../docs/contracts/asyncapi.json', import.meta.url), 'utf8'),
    );
    expect(committed).toEqual(JSON.parse(JSON.stringify(asyncApiDocument())));
  });
});
