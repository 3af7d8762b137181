/**
 * Findings of the operator audit, against the real ingest server and broker:
 * - a `__proto__` / `constructor` key in a JSON item is dropped like any unknown field (not a 400
 *   for the whole batch), and a compressed body gets 415 naming its Content-Encoding;
 * - refused multipart uploads are counted in trendradar_ingest_rejected_requests_total;
 * - a topic deleted while ingest runs is reported as missing (named, with the fix) by /readyz, the
 *   503 and the log, not as "broker unreachable".
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore, mintApiKey } from '../../../services/ingest/api-keys.ts';
import { IngestEnv } from '../../../services/ingest/config.ts';
import { type IngestService, startIngest } from '../../../services/ingest/service.ts';
import { loadConfig } from '../../../shared/config/env.ts';
import { topicName, topicSpec } from '../../../shared/contracts/topics.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { collectUntil } from '../../support/kafka.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'ingest-audit-test' });
const key = mintApiKey('phone-app');
const apiKeys = new ApiKeyStore([key.entry]);
const specs = (['uploads', 'interactions'] as const).map(topicSpec);

let blobDir: string;
beforeAll(async () => {
  blobDir = await mkdtemp(join(tmpdir(), 'ingest-audit-'));
});
afterAll(async () => {
  if (blobDir) await rm(blobDir, { recursive: true, force: true });
});

const configFor = (namespace: string) =>
  loadConfig(IngestEnv, {
    KAFKA_BROKERS: kafkaBrokers.join(','),
    TOPIC_NAMESPACE: namespace,
    BLOB_STORE_DIR: blobDir,
    INGEST_PORT: '0',
  });

let sequence = 0;
const interaction = (overrides: Record<string, unknown> = {}) => ({
  eventId: `audit-${Date.now()}-${++sequence}`,
  type: 'like',
  postId: 'post-audit',
  memberId: 'member-1',
  timestamp: new Date(Date.now() - 60_000).toISOString(),
  ...overrides,
});
const post = (url: string, body: string | Buffer | FormData, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    body,
    headers: {
      authorization: `Bearer ${key.key}`,
      ...(body instanceof FormData ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
  });

/** A counter's value on /metrics, the series with these labels (and the registry's `service`); 0 when absent. */
async function metric(baseUrl: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    const present = labelText.split(',');
    const own = present.filter((p) => !p.startsWith('service='));
    if (wanted.every((w) => own.includes(w)) && own.length === wanted.length)
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

describe('request bodies and refused multipart uploads', () => {
  const namespace = uniqueNamespace('ingest-audit');
  let service: IngestService;

  beforeAll(async () => {
    await applyTopics(kafka, { namespace, specs });
    service = await startIngest(configFor(namespace), {
      kafka,
      apiKeys,
      logger: createLogger('ingest-audit-test', 'silent'),
      resolveHost: async () => ['93.184.215.14'],
    });
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('drops a __proto__ or constructor key of a JSON item like any unknown field, keeping the batch', async () => {
    const proto = interaction();
    const ctor = interaction();
    const plain = interaction();
    // JSON.stringify would leave a __proto__ property out: the key is written into the text.
    const withKey = (item: Record<string, unknown>, keyJson: string) =>
      `{${keyJson},${JSON.stringify(item).slice(1)}`;
    const body = `[${withKey(proto, '"__proto__":{"x":1}')},${withKey(ctor, '"constructor":{"prototype":{"x":1}}')},${JSON.stringify(plain)}]`;
    const response = await post(`${service.url}/v1/interactions`, body);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ accepted: 3, rejected: 0 });

    // The same items as NDJSON (which never refused them) still pass.
    const ndjson = [withKey(interaction(), '"__proto__":{"x":1}'), JSON.stringify(interaction())].join('\n');
    const nd = await post(`${service.url}/v1/interactions`, ndjson, {
      'content-type': 'application/x-ndjson',
    });
    expect(nd.status).toBe(202);
    expect(await nd.json()).toMatchObject({ accepted: 2, rejected: 0 });

    // Produced, without the dropped keys.
    const ids = new Set([proto.eventId, ctor.eventId, plain.eventId]);
    const records = await collectUntil(
      kafka,
      topicName('interactions', namespace),
      (r) => r.filter((x) => ids.has(JSON.parse(x.message.value!.toString()).eventId)).length >= 3,
    );
    for (const record of records) {
      const text = record.message.value!.toString();
      expect(text).not.toContain('__proto__');
      expect(text).not.toContain('constructor');
      expect(text).not.toContain('prototype');
    }
  });

  it('drops a __proto__ key of a JSON upload', async () => {
    const upload = {
      eventId: `audit-u-${Date.now()}`,
      postId: `post-audit-u-${Date.now()}`,
      memberId: 'member-1',
      images: [{ url: 'https://images.audit.example/a.jpg' }],
      location: { country: 'GB', city: 'London' },
      clientTimestamp: new Date(Date.now() - 60_000).toISOString(),
    };
    const response = await post(
      `${service.url}/v1/uploads`,
      `{"__proto__":{"admin":true},${JSON.stringify(upload).slice(1)}`,
    );
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ status: 'accepted', eventId: upload.eventId });
  });

  it('answers 415 naming the Content-Encoding of a compressed body, and counts it', async () => {
    const before = await metric(service.url, 'trendradar_ingest_rejected_requests_total', {
      reason: 'unsupported-media-type',
    });
    const batch = JSON.stringify([interaction()]);
    const gzipped = await post(`${service.url}/v1/interactions`, gzipSync(batch), {
      'content-encoding': 'gzip',
    });
    expect(gzipped.status).toBe(415);
    const body = (await gzipped.json()) as { error: string; reason: string };
    expect(body.error).toBe('unsupported-media-type');
    expect(body.reason).toMatch(/Content-Encoding "gzip" is not supported/);
    expect(body.reason).not.toMatch(/not valid JSON/);

    const brotli = await post(`${service.url}/v1/uploads`, '{}', { 'content-encoding': 'br' });
    expect(brotli.status).toBe(415);
    expect(((await brotli.json()) as { reason: string }).reason).toMatch(/"br"/);

    expect(
      await metric(service.url, 'trendradar_ingest_rejected_requests_total', {
        reason: 'unsupported-media-type',
      }),
    ).toBe(before + 2);

    // `identity` is no encoding at all.
    const identity = await post(`${service.url}/v1/interactions`, batch, { 'content-encoding': 'identity' });
    expect(identity.status).toBe(202);
  });

  it('counts refused multipart uploads in trendradar_ingest_rejected_requests_total', async () => {
    const reasons = ['unsupported-media-type', 'malformed-json', 'bad-request'] as const;
    const value = (reason: string) =>
      metric(service.url, 'trendradar_ingest_rejected_requests_total', { reason });
    const uploadRejected = () =>
      metric(service.url, 'trendradar_ingest_events_total', { type: 'upload', outcome: 'rejected' });
    const before = Object.fromEntries(await Promise.all(reasons.map(async (r) => [r, await value(r)])));
    const eventsBefore = await uploadRejected();

    const metadata = JSON.stringify({
      eventId: 'mm-1',
      postId: 'p-mm-1',
      memberId: 'm',
      location: { country: 'IT', city: 'Milan' },
      clientTimestamp: new Date(Date.now() - 60_000).toISOString(),
    });
    const form = (meta: string | undefined, file: Buffer) => {
      const f = new FormData();
      if (meta !== undefined) f.append('metadata', meta);
      f.append('file', new Blob([new Uint8Array(file)], { type: 'image/jpeg' }), 'photo.jpg');
      return f;
    };
    const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } })
      .jpeg()
      .toBuffer();
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>');
    const statuses = [];
    for (const file of [Buffer.alloc(0), Buffer.from('not an image\n'), svg])
      statuses.push((await post(`${service.url}/v1/uploads`, form(metadata, file))).status);
    statuses.push((await post(`${service.url}/v1/uploads`, form('{oops', jpeg))).status);
    statuses.push((await post(`${service.url}/v1/uploads`, form(undefined, jpeg))).status);
    expect(statuses).toEqual([415, 415, 415, 400, 400]);

    expect(await value('unsupported-media-type')).toBe(before['unsupported-media-type'] + 3);
    expect(await value('malformed-json')).toBe(before['malformed-json'] + 1);
    expect(await value('bad-request')).toBe(before['bad-request'] + 1);
    // Refused as whole requests (like a JSON body that does not parse), not as judged uploads.
    expect(await uploadRejected()).toBe(eventsBefore);
  });
});

describe('a topic deleted while ingest runs', () => {
  const namespace = uniqueNamespace('ingest-topicgone');
  const interactionsTopic = topicName('interactions', namespace);
  const lines: Array<{ level: number; msg: string; missing?: string[]; fix?: string }> = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
        done();
      },
    }),
  );
  let service: IngestService;

  beforeAll(async () => {
    await applyTopics(kafka, { namespace, specs });
    service = await startIngest(configFor(namespace), { kafka, apiKeys, logger });
  });
  afterAll(async () => {
    await service?.stop();
  });

  const readyz = async () => {
    const response = await fetch(`${service.url}/readyz`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const until = async <T>(probe: () => Promise<T>, done: (value: T) => boolean, ms = 20_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await probe();
      if (done(value) || Date.now() > deadline) return value;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  };

  it('says which topic is missing and how to create it: /readyz, the 503, the log', async () => {
    expect((await readyz()).status).toBe(200);
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: [interactionsTopic] });
    } finally {
      await admin.disconnect();
    }
    const fix = `TOPIC_NAMESPACE=${namespace} trend-radar topics apply`;

    const notReady = await until(readyz, (r) => r.status === 503);
    expect(notReady).toEqual({
      status: 503,
      body: {
        status: 'topics missing',
        reason: expect.stringContaining(interactionsTopic),
        missing: [interactionsTopic],
        fix,
      },
    });

    for (let i = 0; i < 2; i++) {
      const refused = await post(`${service.url}/v1/interactions`, JSON.stringify([interaction()]));
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      const body = (await refused.json()) as { error: string; reason: string };
      expect(body.error).toBe('broker-unavailable');
      expect(body.reason).toContain(interactionsTopic);
      expect(body.reason).toContain(fix);
      expect(body.reason).not.toMatch(/unreachable/);
    }

    const warnings = lines.filter((l) => l.level >= 40);
    expect(warnings.some((l) => /unreachable/.test(l.msg))).toBe(false);
    const missingLines = warnings.filter((l) => l.missing);
    expect(missingLines).toHaveLength(1);
    expect(missingLines[0]).toMatchObject({ level: 50, missing: [interactionsTopic], fix });
    expect(missingLines[0]!.msg).toContain(interactionsTopic);

    // Created again: ready, and produced.
    await applyTopics(kafka, { namespace, specs });
    expect((await until(readyz, (r) => r.status === 200)).status).toBe(200);
    const accepted = await until(
      () => post(`${service.url}/v1/interactions`, JSON.stringify([interaction()])).then((r) => r.status),
      (status) => status === 202,
    );
    expect(accepted).toBe(202);
    expect(lines.some((l) => l.level === 30 && /missing topics exist again/.test(l.msg))).toBe(true);
  });
});
