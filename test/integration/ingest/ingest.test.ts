import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore, mintApiKey } from '../../../services/ingest/api-keys.ts';
import { IngestEnv } from '../../../services/ingest/config.ts';
import { type IngestService, startIngest } from '../../../services/ingest/service.ts';
import { FilesystemBlobStore } from '../../../shared/blobstore/blob-store.ts';
import { loadConfig } from '../../../shared/config/env.ts';
import { topicName, topicSpec } from '../../../shared/contracts/topics.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { heicPhoto } from '../../support/heic.ts';
import { type Collected, collectUntil, headerText } from '../../support/kafka.ts';

const { kafkaBrokers } = integrationEnv();
const namespace = uniqueNamespace('ingest');
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'ingest-test' });
const logger = createLogger('ingest-test', 'silent');
const primary = mintApiKey('phone-app');
const secondary = mintApiKey('partner');
const apiKeys = new ApiKeyStore([primary.entry, secondary.entry]);
/** Stands in for DNS (the test machine may be offline): two public names, one pointing inside. */
const resolveHost = async (host: string) => {
  const table: Record<string, string[]> = {
    'images.netset.example': ['93.184.215.14'],
    'cdn.netset.example': ['151.101.1.1', '2a04:4e42::1'],
    'sneaky.netset.example': ['93.184.215.14', '10.1.2.3'],
    'internal.corp.example': ['10.0.0.7'],
  };
  // DNS not answering (SERVFAIL, timeouts) as the resolver reports it: not a verdict on the URL.
  if (host === 'flaky.netset.example')
    throw Object.assign(new Error(`getaddrinfo EAI_AGAIN ${host}`), { code: 'EAI_AGAIN' });
  const addresses = table[host];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return addresses;
};

let blobDir: string;
let service: IngestService;

function configFor(overrides: Record<string, string> = {}) {
  return loadConfig(IngestEnv, {
    KAFKA_BROKERS: kafkaBrokers.join(','),
    TOPIC_NAMESPACE: namespace,
    BLOB_STORE_DIR: blobDir,
    INGEST_PORT: '0',
    INGEST_MAX_BODY_BYTES: '65536',
    INGEST_MAX_BATCH: '50',
    INGEST_MAX_IMAGE_BYTES: '200000',
    INGEST_URL_ALLOW_HOSTS: 'internal.corp.example',
    ...overrides,
  });
}

const post = (
  path: string,
  body: string | FormData,
  headers: Record<string, string> = {},
  key = primary.key,
) =>
  fetch(`${service.url}${path}`, {
    method: 'POST',
    body,
    headers: {
      ...(typeof body === 'string' ? { 'content-type': 'application/json' } : {}),
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...headers,
    },
  });

let sequence = 0;
const nextId = (prefix: string) => `${prefix}-${++sequence}`;

function interaction(overrides: Record<string, unknown> = {}) {
  return {
    eventId: nextId('i'),
    type: 'like',
    postId: 'post-red-1',
    memberId: 'member-7',
    timestamp: new Date(Date.now() - 60_000).toISOString(),
    country: 'GB',
    ...overrides,
  };
}

function upload(overrides: Record<string, unknown> = {}) {
  return {
    eventId: nextId('u'),
    postId: nextId('post'),
    memberId: 'member-7',
    images: [{ url: 'https://images.netset.example/a.jpg' }],
    caption: 'new shoes',
    hashtags: ['ootd'],
    location: { country: 'GB', city: 'London', lat: 51.5, lon: -0.12 },
    clientTimestamp: new Date(Date.now() - 30_000).toISOString(),
    ...overrides,
  };
}

/** What the service said it accepted, by event id, with the request id it answered under. */
const accepted = new Map<
  string,
  { topic: 'uploads' | 'interactions'; body: Record<string, unknown>; requestId: string; source: string }
>();

async function sendInteractions(items: unknown[], key = primary.key, source = 'phone-app') {
  const response = await post('/v1/interactions', JSON.stringify(items), {}, key);
  const json = (await response.json()) as {
    accepted: number;
    rejected: number;
    results: Array<{ index: number; status: string; reason?: string; eventId?: string }>;
    error?: string;
  };
  for (const result of json.results ?? []) {
    if (result.status === 'accepted') {
      accepted.set(result.eventId!, {
        topic: 'interactions',
        body: items[result.index] as Record<string, unknown>,
        requestId: response.headers.get('x-request-id')!,
        source,
      });
    }
  }
  return { status: response.status, json };
}

async function sendUpload(body: Record<string, unknown>) {
  const response = await post('/v1/uploads', JSON.stringify(body));
  const json = (await response.json()) as { error?: string; reason?: string; status?: string };
  if (response.status === 202) {
    accepted.set(body.eventId as string, {
      topic: 'uploads',
      body,
      requestId: response.headers.get('x-request-id')!,
      source: 'phone-app',
    });
  }
  return { status: response.status, json };
}

beforeAll(async () => {
  await applyTopics(kafka, { namespace, specs: [topicSpec('uploads'), topicSpec('interactions')] });
  blobDir = await mkdtemp(join(tmpdir(), 'ingest-blobs-'));
  service = await startIngest(configFor(), { kafka, apiKeys, logger, resolveHost });
});

afterAll(async () => {
  await service?.stop();
  await rm(blobDir, { recursive: true, force: true });
});

describe('authentication and limits', () => {
  it('refuses a missing or wrong API key with 401 and a reason', async () => {
    const missing = await post('/v1/interactions', JSON.stringify([interaction()]), {}, '');
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({
      error: 'unauthenticated',
      reason: expect.stringMatching(/required/),
    });
    const wrong = await post('/v1/interactions', JSON.stringify([interaction()]), {}, `${primary.key}x`);
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({
      error: 'unauthenticated',
      reason: expect.stringMatching(/not valid/),
    });
    const viaHeader = await post(
      '/v1/interactions',
      JSON.stringify([interaction()]),
      { 'x-api-key': 'nope' },
      '',
    );
    expect(viaHeader.status).toBe(401);
    // Other spellings of the same routes need the key as well.
    for (const path of ['/%761/interactions', '/v%31/interactions', '/%761/uploads']) {
      const encoded = await post(path, JSON.stringify([interaction()]), {}, '');
      expect(encoded.status, path).toBe(401);
    }
  });

  it('refuses malformed JSON with 400', async () => {
    const response = await post('/v1/interactions', '[{"eventId": "x", ');
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'malformed-json' });
    const uploadResponse = await post('/v1/uploads', '{"postId": ');
    expect(uploadResponse.status).toBe(400);
    expect(await uploadResponse.json()).toMatchObject({ error: 'malformed-json' });
  });

  it('refuses an oversize body (413) and an oversize batch (413)', async () => {
    const big = JSON.stringify([interaction({ comment: 'x'.repeat(2000) })]).padEnd(70_000, ' ');
    const body = await post('/v1/interactions', big);
    expect(body.status).toBe(413);
    expect(await body.json()).toMatchObject({ error: 'too-large' });
    const batch = await post(
      '/v1/interactions',
      JSON.stringify(Array.from({ length: 51 }, () => interaction())),
    );
    expect(batch.status).toBe(413);
    expect(await batch.json()).toMatchObject({
      error: 'batch-too-large',
      reason: expect.stringMatching(/51 items.*50/),
    });
  });

  it('refuses a body that is not a batch and an unsupported content type', async () => {
    const notArray = await post('/v1/interactions', JSON.stringify(interaction()));
    expect(notArray.status).toBe(400);
    expect(await notArray.json()).toMatchObject({ reason: expect.stringMatching(/JSON array/) });
    const xml = await post('/v1/interactions', '<like/>', { 'content-type': 'application/xml' });
    expect(xml.status).toBe(415);
    const text = await post('/v1/interactions', `${JSON.stringify(interaction())}\n`, {
      'content-type': 'text/plain',
    });
    expect(text.status).toBe(415);
  });
});

describe('POST /v1/interactions', () => {
  it('accepts the valid items of a batch and rejects each bad one with its reason', async () => {
    const items = [
      interaction(),
      interaction({ postId: 42 }), // wrong type
      interaction({ type: 'poke' }), // unknown event type
      interaction({ timestamp: 'yesterday at noon' }), // bad timestamp
      interaction({ timestamp: new Date(Date.now() + 3_600_000).toISOString() }), // in the future
      { eventId: nextId('i'), type: 'save' }, // missing fields
      interaction({ timestamp: new Date(Date.now() - 366 * 86_400_000).toISOString() }), // older than kept
      interaction({ type: 'save', memberId: 'member-8' }),
      interaction({ type: 'comment', comment: 'love the red', country: 'IT' }),
    ];
    const { status, json } = await sendInteractions(items);
    expect(status).toBe(202);
    expect(json.accepted).toBe(3);
    expect(json.rejected).toBe(6);
    const reasons = json.results.map((r) => r.reason ?? r.status);
    expect(reasons[0]).toBe('accepted');
    expect(reasons[1]).toMatch(/^postId: .*string/);
    expect(reasons[2]).toMatch(/^type: /);
    expect(reasons[3]).toMatch(/^timestamp: /);
    expect(reasons[4]).toMatch(/timestamp: .* in the future/);
    expect(reasons[5]).toMatch(/postId.*memberId.*timestamp|postId/);
    expect(reasons[6]).toMatch(/^timestamp: .* is more than 365 days old/);
    expect(reasons.slice(7)).toEqual(['accepted', 'accepted']);
  });

  it('answers 400 with per-item reasons when no item is valid', async () => {
    const { status, json } = await sendInteractions([
      interaction({ type: 'poke' }),
      interaction({ memberId: '' }),
    ]);
    expect(status).toBe(400);
    expect(json.accepted).toBe(0);
    expect(json.results.every((r) => r.status === 'rejected' && r.reason)).toBe(true);
  });

  it('takes NDJSON and rejects a broken line alone', async () => {
    const good = [interaction({ type: 'share' }), interaction({ type: 'wishlist' })];
    const text = `${JSON.stringify(good[0])}\n{"eventId": "broken\n${JSON.stringify(good[1])}\n`;
    const response = await post('/v1/interactions', text, { 'content-type': 'application/x-ndjson' });
    expect(response.status).toBe(202);
    const json = (await response.json()) as {
      results: Array<{ status: string; reason?: string; eventId?: string }>;
    };
    expect(json.results.map((r) => r.status)).toEqual(['accepted', 'rejected', 'accepted']);
    expect(json.results[1]!.reason).toMatch(/line 2 is not JSON/);
    const requestId = response.headers.get('x-request-id')!;
    accepted.set(good[0]!.eventId, { topic: 'interactions', body: good[0]!, requestId, source: 'phone-app' });
    accepted.set(good[1]!.eventId, { topic: 'interactions', body: good[1]!, requestId, source: 'phone-app' });
  });

  it('keeps a sane client request id and replaces an unsafe one', async () => {
    const item = interaction();
    const own = await post('/v1/interactions', JSON.stringify([item]), { 'x-request-id': 'client-req-42' });
    expect(own.status).toBe(202);
    expect(own.headers.get('x-request-id')).toBe('client-req-42');
    accepted.set(item.eventId, {
      topic: 'interactions',
      body: item,
      requestId: 'client-req-42',
      source: 'phone-app',
    });
    const other = interaction();
    const unsafe = await post('/v1/interactions', JSON.stringify([other]), { 'x-request-id': 'a b\tc' });
    const replaced = unsafe.headers.get('x-request-id')!;
    expect(replaced).toMatch(/^[0-9a-f-]{36}$/);
    accepted.set(other.eventId, {
      topic: 'interactions',
      body: other,
      requestId: replaced,
      source: 'phone-app',
    });
  });

  it('stamps the key name of the sender as source', async () => {
    const item = interaction({ postId: 'post-partner' });
    const { status } = await sendInteractions([item], secondary.key, 'partner');
    expect(status).toBe(202);
  });
});

describe('POST /v1/uploads', () => {
  it('accepts a valid upload with public https image URLs', async () => {
    const { status, json } = await sendUpload(
      upload({
        images: [{ url: 'https://images.netset.example/a.jpg' }, { url: 'https://cdn.netset.example/b.png' }],
      }),
    );
    expect(status).toBe(202);
    expect(json.status).toBe('accepted');
  });

  it.each([
    ['file:', 'file:///etc/passwd', /https/],
    ['javascript:', 'javascript:alert(1)', /https/],
    ['plain http', 'http://images.netset.example/a.jpg', /https/],
    ['a private IP', 'https://10.0.0.1/a.jpg', /private, loopback or reserved/],
    ['loopback', 'https://127.0.0.1:9200/_cat', /private, loopback or reserved/],
    ['link-local metadata', 'https://169.254.169.254/latest/meta-data', /private, loopback or reserved/],
    ['IPv6 loopback', 'https://[::1]/a.jpg', /private, loopback or reserved/],
    ['a name with one private address', 'https://sneaky.netset.example/a.jpg', /10\.1\.2\.3/],
    ['a name that does not resolve', 'https://nowhere.netset.example/a.jpg', /cannot resolve/],
  ])('rejects an image URL that is %s', async (_label, url, reason) => {
    const { status, json } = await sendUpload(
      upload({ images: [{ url: 'https://images.netset.example/ok.jpg' }, { url }] }),
    );
    expect(status).toBe(400);
    expect(json.reason).toMatch(reason);
  });

  it('answers 503 with Retry-After when DNS does not answer for an image host, producing nothing', async () => {
    const body = upload({ images: [{ url: 'https://flaky.netset.example/a.jpg' }] });
    const { status, json } = await sendUpload(body);
    expect(status).toBe(503);
    expect(json).toMatchObject({ error: 'dns-unavailable' });
  });

  it('lets an allow-listed internal host through', async () => {
    const { status } = await sendUpload(upload({ images: [{ url: 'https://internal.corp.example/c.jpg' }] }));
    expect(status).toBe(202);
  });

  it('rejects wrong types, missing fields and a bad timestamp with 400 and the field', async () => {
    const wrongType = await sendUpload(upload({ location: { country: 'gb', city: 'London' } }));
    expect(wrongType.status).toBe(400);
    expect(wrongType.json.reason).toMatch(/location\.country/);
    const { memberId: _dropped, ...missing } = upload();
    const missingField = await sendUpload(missing);
    expect(missingField.json.reason).toMatch(/memberId/);
    const badTime = await sendUpload(upload({ clientTimestamp: '2025-13-45T99:00:00Z' }));
    expect(badTime.status).toBe(400);
    expect(badTime.json.reason).toMatch(/clientTimestamp/);
    const noImages = await sendUpload(upload({ images: [] }));
    expect(noImages.json.reason).toMatch(/images/);
  });

  it('stores multipart image bytes in the blob store and produces their blobRef', async () => {
    const jpeg = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#c0182a' } })
      .jpeg()
      .toBuffer();
    const metadata = upload({ images: undefined });
    const form = new FormData();
    form.append('metadata', JSON.stringify(metadata));
    form.append('image', new Blob([jpeg], { type: 'image/jpeg' }), 'photo.jpg');
    const response = await post('/v1/uploads', form);
    expect(response.status).toBe(202);
    const json = (await response.json()) as { images: Array<{ blobRef: string; contentType: string }> };
    const store = new FilesystemBlobStore(blobDir);
    expect(json.images).toHaveLength(1);
    expect(await store.get(json.images[0]!.blobRef)).toEqual(jpeg);
    accepted.set(metadata.eventId, {
      topic: 'uploads',
      body: { ...metadata, images: json.images },
      requestId: response.headers.get('x-request-id')!,
      source: 'phone-app',
    });
  });

  it('writes no blob for an upload that is refused (not an image, bad metadata, too large)', async () => {
    const before = await countBlobs();
    const notImage = new FormData();
    notImage.append('metadata', JSON.stringify(upload({ images: undefined })));
    notImage.append('image', new Blob([Buffer.from('#!/bin/sh\nrm -rf /\n')]), 'photo.jpg');
    const refusedType = await post('/v1/uploads', notImage);
    expect(refusedType.status).toBe(415);

    const jpeg = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#000' } })
      .jpeg()
      .toBuffer();
    const badMetadata = new FormData();
    badMetadata.append('metadata', JSON.stringify(upload({ images: undefined, memberId: 'has spaces' })));
    badMetadata.append('image', new Blob([jpeg]), 'photo.jpg');
    const refusedMetadata = await post('/v1/uploads', badMetadata);
    expect(refusedMetadata.status).toBe(400);
    expect(((await refusedMetadata.json()) as { reason: string }).reason).toMatch(/memberId/);

    const badUrl = new FormData();
    badUrl.append('metadata', JSON.stringify(upload({ images: [{ url: 'https://10.0.0.1/x.jpg' }] })));
    badUrl.append('image', new Blob([jpeg]), 'photo.jpg');
    expect((await post('/v1/uploads', badUrl)).status).toBe(400);

    const huge = new FormData();
    huge.append('metadata', JSON.stringify(upload({ images: undefined })));
    huge.append('image', new Blob([Buffer.concat([jpeg, Buffer.alloc(300_000)])]), 'photo.jpg');
    const tooLarge = await post('/v1/uploads', huge);
    expect(tooLarge.status).toBe(413);

    // An iPhone HEIC: HEVC, which the pinned sharp cannot decode (test/unit/ingest/heif-support.test.ts
    // asserts that), so the embedder would dead-letter it.
    const heic = new FormData();
    heic.append('metadata', JSON.stringify(upload({ images: undefined })));
    heic.append('image', new Blob([new Uint8Array(await heicPhoto())]), 'IMG_0001.HEIC');
    const refusedHeic = await post('/v1/uploads', heic);
    expect(refusedHeic.status).toBe(415);
    expect(((await refusedHeic.json()) as { reason: string }).reason).toMatch(
      /HEIC \(HEVC-coded HEIF\) is not supported by this deployment.*JPEG, PNG, WebP or AVIF/,
    );

    expect(await countBlobs()).toBe(before);
  });

  it('refuses a blobRef that is not in the store', async () => {
    const { status, json } = await sendUpload(upload({ images: [{ blobRef: `sha256:${'a'.repeat(64)}` }] }));
    expect(status).toBe(400);
    expect(json.reason).toMatch(/not in the blob store/);
  });
});

describe('what reaches Kafka', () => {
  it('holds every accepted event exactly as accepted (key, value, headers) and nothing else', async () => {
    const expectedUploads = [...accepted.values()].filter((a) => a.topic === 'uploads').length;
    const expectedInteractions = accepted.size - expectedUploads;
    const [uploads, interactions] = await Promise.all([
      collectUntil(kafka, topicName('uploads', namespace), (r) => r.length >= expectedUploads, 30_000),
      collectUntil(
        kafka,
        topicName('interactions', namespace),
        (r) => r.length >= expectedInteractions,
        30_000,
      ),
    ]);
    // Give stragglers (records that must not exist) a moment to show up.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(uploads).toHaveLength(expectedUploads);
    expect(interactions).toHaveLength(expectedInteractions);
    const started = Date.now() - 10 * 60_000;
    for (const record of [...uploads, ...interactions] as Collected[]) {
      const value = JSON.parse(record.message.value!.toString()) as Record<string, unknown>;
      const sent = accepted.get(value.eventId as string);
      expect(sent, `unexpected event ${value.eventId}`).toBeDefined();
      const { receivedAt, source, ...rest } = value;
      const defaults = sent!.topic === 'uploads' ? { caption: '', hashtags: [] } : {};
      expect(rest).toEqual({ ...defaults, ...sent!.body });
      expect(source).toBe(sent!.source);
      expect(Date.parse(receivedAt as string)).toBeGreaterThan(started);
      expect(record.message.key!.toString()).toBe(sent!.body.postId);
      expect(headerText(record.message, 'trendradar-request-id')).toBe(sent!.requestId);
      expect(headerText(record.message, 'trendradar-source')).toBe(sent!.source);
      expect(headerText(record.message, 'trendradar-schema')).toBe(`${sent!.topic}.v1`);
      expect(headerText(record.message, 'content-type')).toBe('application/json');
      const eventTime = (sent!.body.timestamp ?? sent!.body.clientTimestamp) as string;
      expect(record.message.timestamp).toBe(String(Date.parse(eventTime)));
    }
    // Same key, same partition: a post's interactions sit beside its upload.
    const partitionsOfPost = new Set(
      interactions.filter((r) => r.message.key!.toString() === 'post-red-1').map((r) => r.partition),
    );
    expect(partitionsOfPost.size).toBe(1);
  });
});

describe('operations', () => {
  it('serves /healthz, /readyz, /metrics and /openapi.json', async () => {
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${service.url}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(
      /trendradar_ingest_events_total\{[^}]*type="interaction"[^}]*outcome="accepted"[^}]*\} [1-9]/,
    );
    const openapi = (await (await fetch(`${service.url}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(openapi.paths)).toContain('/v1/interactions');
  });

  it('limits the rate per API key', async () => {
    const limited = await startIngest(configFor({ INGEST_RATE_LIMIT_PER_MINUTE: '3' }), {
      kafka,
      apiKeys,
      logger,
      resolveHost,
    });
    try {
      const send = (key: string) =>
        fetch(`${limited.url}/v1/interactions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify([{ ...interaction(), postId: 'post-rate' }]),
        });
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await send(primary.key)).status);
      expect(statuses).toEqual([202, 202, 202, 429]);
      const refused = await send(primary.key);
      expect(await refused.json()).toMatchObject({ error: 'rate-limited' });
      expect((await send(secondary.key)).status).toBe(202);
    } finally {
      await limited.stop();
    }
  });

  it('refuses with 503 overloaded when too many records wait for the broker', async () => {
    const small = await startIngest(
      configFor({ INGEST_MAX_PENDING_RECORDS: '50', INGEST_LINGER_MS: '400' }),
      {
        kafka,
        apiKeys,
        logger,
        resolveHost,
      },
    );
    try {
      const send = () =>
        fetch(`${small.url}/v1/interactions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${primary.key}` },
          body: JSON.stringify(Array.from({ length: 30 }, () => interaction({ postId: 'post-overload' }))),
        });
      const first = send();
      // The first 30 records now wait in the batcher (linger 400 ms): 30 more would exceed 50.
      await new Promise((resolve) => setTimeout(resolve, 150));
      const second = await send();
      expect(second.status).toBe(503);
      expect(second.headers.get('retry-after')).toBe('1');
      expect(await second.json()).toMatchObject({ error: 'overloaded' });
      expect((await first).status).toBe(202);
    } finally {
      await small.stop();
    }
  });

  it('accepts 1,000 long comments on one post (one partition, over 1 MiB encoded) in several sends', async () => {
    const viral = await startIngest(
      configFor({ INGEST_MAX_BODY_BYTES: '1048576', INGEST_MAX_BATCH: '1000', INGEST_LINGER_MS: '0' }),
      { kafka, apiKeys, logger, resolveHost },
    );
    try {
      const postId = nextId('post-viral');
      const items = Array.from({ length: 1_000 }, () =>
        interaction({ postId, type: 'comment', comment: 'so good '.repeat(100) }),
      );
      const response = await fetch(`${viral.url}/v1/interactions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${primary.key}`,
          'x-request-id': 'r'.repeat(128),
        },
        body: JSON.stringify(items),
      });
      expect(response.status).toBe(202);
      expect(await response.json()).toMatchObject({ accepted: 1_000, rejected: 0 });
      const ids = new Set(items.map((i) => i.eventId));
      const mine = (records: Collected[]) =>
        records.filter((r) => ids.has(JSON.parse(r.message.value!.toString()).eventId));
      const found = await collectUntil(
        kafka,
        topicName('interactions', namespace),
        (records) => mine(records).length === ids.size,
        60_000,
      );
      // All on one partition (one key), in the order sent.
      expect(mine(found).map((r) => JSON.parse(r.message.value!.toString()).eventId)).toEqual(
        items.map((i) => i.eventId),
      );
    } finally {
      await viral.stop();
    }
  });

  it('drains in-flight requests on stop: each gets its 202 and its records are in Kafka', async () => {
    const draining = await startIngest(configFor({ INGEST_LINGER_MS: '400' }), {
      kafka,
      apiKeys,
      logger,
      resolveHost,
    });
    const items = Array.from({ length: 10 }, () => interaction({ postId: 'post-drain' }));
    const responses = items.map((item) =>
      fetch(`${draining.url}/v1/interactions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${primary.key}` },
        body: JSON.stringify([item]),
      }),
    );
    // The records now wait in the batcher (linger 400 ms) when the stop begins.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const readyWhileDraining = draining.stop();
    const statuses = await Promise.all(responses.map(async (r) => (await r).status));
    await readyWhileDraining;
    expect(statuses).toEqual(new Array(10).fill(202));
    const ids = new Set(items.map((i) => i.eventId));
    const found = await collectUntil(
      kafka,
      topicName('interactions', namespace),
      (records) =>
        records.filter((r) => ids.has(JSON.parse(r.message.value!.toString()).eventId)).length === ids.size,
      30_000,
    );
    expect(found.filter((r) => ids.has(JSON.parse(r.message.value!.toString()).eventId))).toHaveLength(10);
    // Closed: a new connection is refused, a kept-alive one gets 503.
    const after = await fetch(`${draining.url}/healthz`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect([503, 'refused']).toContain(after);
  });
});

async function countBlobs(): Promise<number> {
  const entries = await readdir(blobDir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).length;
}
