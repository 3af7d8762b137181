import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import type { ProducerBatch } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiKeyStore, mintApiKey } from '../../../services/ingest/api-keys.ts';
import { type IngestConfig, IngestEnv } from '../../../services/ingest/config.ts';
import { buildIngestServer, type IngestServer } from '../../../services/ingest/server.ts';
import { type BlobStore, blobRefOf } from '../../../shared/blobstore/blob-store.ts';
import { loadConfig } from '../../../shared/config/env.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { createRegistry } from '../../../shared/observability/metrics.ts';
import { decodableFormatsList } from '../../../shared/vision/heif-support.ts';
import { avifPhoto, heicPhoto } from '../../support/heic.ts';

const phoneApp = mintApiKey('phone-app');
const auth = { authorization: `Bearer ${phoneApp.key}` };

function dnsError(code: string): Error {
  return Object.assign(new Error(`getaddrinfo ${code} cdn.example.com`), { code });
}

let servers: IngestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.app.close()));
  servers = [];
});

function makeServer(
  options: {
    config?: Partial<IngestConfig>;
    resolveHost?: (host: string) => Promise<string[]>;
    /** Replaces the recording send (e.g. one that hangs, as while the broker is away). */
    sendBatch?: (batch: ProducerBatch) => Promise<void>;
    brokerReachable?: () => Promise<boolean>;
  } = {},
) {
  const config = { ...loadConfig(IngestEnv, {}), ...options.config };
  const sends: ProducerBatch[] = [];
  const blobs = new Map<string, Buffer>();
  const blobStore: BlobStore = {
    put: async (bytes) => {
      blobs.set(blobRefOf(bytes), bytes);
      return blobRefOf(bytes);
    },
    get: async (ref) => blobs.get(ref)!,
    has: async (ref) => blobs.has(ref),
  } as BlobStore;
  const server = buildIngestServer(config, {
    producer: {
      sendBatch: async (batch) => {
        await options.sendBatch?.(batch);
        sends.push(batch);
        return [];
      },
    },
    blobStore,
    apiKeys: new ApiKeyStore([phoneApp.entry]),
    registry: createRegistry('ingest'),
    logger: createLogger('ingest-test', 'silent'),
    checkBroker: async () =>
      (await (options.brokerReachable ?? (async () => true))())
        ? { ok: true }
        : { ok: false, problem: 'unreachable' },
    resolveHost: options.resolveHost ?? (async () => ['93.184.216.34']),
  });
  servers.push(server);
  const produced = () =>
    sends.flatMap((s) => s.topicMessages!.flatMap((t) => t.messages.map((m) => JSON.parse(String(m.value)))));
  return { ...server, produced, blobs };
}

const interaction = (overrides: Record<string, unknown> = {}) => ({
  eventId: `e-${Math.random().toString(36).slice(2)}`,
  type: 'like',
  postId: 'post-1',
  memberId: 'member-1',
  timestamp: new Date(Date.now() - 60_000).toISOString(),
  ...overrides,
});
const upload = (overrides: Record<string, unknown> = {}) => ({
  eventId: 'u-1',
  postId: 'post-1',
  memberId: 'member-1',
  images: [{ url: 'https://cdn.example.com/a.jpg' }],
  location: { country: 'GB', city: 'London' },
  clientTimestamp: new Date(Date.now() - 60_000).toISOString(),
  ...overrides,
});

describe('API key on every spelling of the v1 routes', () => {
  it.each([
    '/v1/interactions',
    '/%761/interactions',
    '/v%31/interactions',
    '/%76%31/interactions',
    '/v1/interactions?x=1',
  ])('POST %s without a key → 401, nothing produced', async (url) => {
    const server = makeServer();
    const response = await server.app.inject({ method: 'POST', url, payload: [interaction()] });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ error: 'unauthenticated' });
    expect(server.produced()).toEqual([]);
  });

  it('POST /%761/uploads without a key → 401', async () => {
    const server = makeServer();
    const response = await server.app.inject({ method: 'POST', url: '/%761/uploads', payload: upload() });
    expect(response.statusCode).toBe(401);
  });

  it('an absolute-form request line (POST http://host/v1/…) without a key → 401', async () => {
    const server = makeServer();
    await server.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = server.app.server.address() as AddressInfo;
    const body = JSON.stringify([interaction()]);
    const statusLine = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(
          `POST http://ingest.example/v1/interactions HTTP/1.1\r\nHost: ingest.example\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
            `Connection: close\r\n\r\n${body}`,
        );
      });
      let received = '';
      socket.on('data', (chunk) => {
        received += chunk;
      });
      socket.on('end', () => resolve(received.split('\r\n')[0]!));
      socket.on('error', reject);
    });
    expect(statusLine).toBe('HTTP/1.1 401 Unauthorized');
    expect(server.produced()).toEqual([]);
  });

  it('an encoded path with a key is accepted and the record carries the key name as source', async () => {
    const server = makeServer();
    const response = await server.app.inject({
      method: 'POST',
      url: '/%761/interactions',
      payload: [interaction()],
      headers: auth,
    });
    expect(response.statusCode).toBe(202);
    expect(server.produced()).toMatchObject([{ source: 'phone-app' }]);
  });
});

describe('request bodies', () => {
  it('answers 415 to text/plain instead of reading it as NDJSON', async () => {
    const server = makeServer();
    const response = await server.app.inject({
      method: 'POST',
      url: '/v1/interactions',
      payload: `${JSON.stringify(interaction())}\n`,
      headers: { ...auth, 'content-type': 'text/plain' },
    });
    expect(response.statusCode).toBe(415);
    expect(server.produced()).toEqual([]);
  });

  it('takes NDJSON with a leading byte-order mark, and names the physical line of a bad item', async () => {
    const server = makeServer();
    const response = await server.app.inject({
      method: 'POST',
      url: '/v1/interactions',
      payload: `\uFEFF${JSON.stringify(interaction())}\n\n\n{oops\n${JSON.stringify(interaction())}\n`,
      headers: { ...auth, 'content-type': 'application/x-ndjson' },
    });
    expect(response.statusCode).toBe(202);
    const body = response.json();
    expect(body).toMatchObject({ accepted: 2, rejected: 1 });
    expect(body.results[1]).toMatchObject({ index: 1, status: 'rejected', reason: /^line 4 is not JSON/ });
  });

  it('stores hashtags with combining marks, in NFC', async () => {
    const server = makeServer();
    const response = await server.app.inject({
      method: 'POST',
      url: '/v1/uploads',
      payload: upload({ hashtags: ['cafe\u0301', 'हिन्दी', 'தமிழ்'] }),
      headers: auth,
    });
    expect(response.statusCode).toBe(202);
    expect(server.produced()[0].hashtags).toEqual(['caf\u00e9', 'हिन्दी', 'தமிழ்']);
  });
});

describe('image URL host resolution', () => {
  it.each(['EAI_AGAIN', 'ETIMEOUT', 'ESERVFAIL', 'EAI_FAIL'])(
    'answers 503 with Retry-After when DNS fails temporarily (%s)',
    async (code) => {
      const server = makeServer({
        resolveHost: async () => {
          throw dnsError(code);
        },
      });
      const response = await server.app.inject({
        method: 'POST',
        url: '/v1/uploads',
        payload: upload(),
        headers: auth,
      });
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBeDefined();
      expect(response.json()).toMatchObject({ error: 'dns-unavailable' });
      expect(server.produced()).toEqual([]);
    },
  );

  it.each(['ENOTFOUND', 'ENODATA'])('refuses a host that does not resolve (%s) with 400', async (code) => {
    const server = makeServer({
      resolveHost: async () => {
        throw dnsError(code);
      },
    });
    const response = await server.app.inject({
      method: 'POST',
      url: '/v1/uploads',
      payload: upload(),
      headers: auth,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: 'forbidden-url' });
  });
});

describe('image file parts the embedder could not decode', () => {
  const sendFile = (server: ReturnType<typeof makeServer>, bytes: Buffer, name: string) => {
    const form = new FormData();
    form.append('metadata', JSON.stringify(upload({ images: undefined })));
    form.append('image', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), name);
    return server.app.inject({ method: 'POST', url: '/v1/uploads', payload: form, headers: auth });
  };

  // The pinned sharp's libvips has no HEVC decoder (heif-support.test.ts checks it).
  it('refuses a HEIC photo (HEVC) with 415 saying it is not supported here, storing and producing nothing', async () => {
    const server = makeServer();
    const response = await sendFile(server, await heicPhoto(), 'IMG_0001.HEIC');
    expect(response.statusCode).toBe(415);
    expect(response.json()).toEqual({
      error: 'unsupported-media-type',
      reason:
        'file part 1: HEIC (HEVC-coded HEIF) is not supported by this deployment (its image decoder has ' +
        'no HEVC support); send JPEG, PNG, WebP or AVIF',
    });
    expect(server.blobs.size).toBe(0);
    expect(server.produced()).toEqual([]);
  });

  it('accepts an AVIF photo (AV1-coded HEIF) and records it as image/avif', async () => {
    const server = makeServer();
    const avif = await avifPhoto();
    const response = await sendFile(server, avif, 'photo.avif');
    expect(response.statusCode).toBe(202);
    expect(response.json().images).toEqual([{ blobRef: blobRefOf(avif), contentType: 'image/avif' }]);
    expect(server.blobs.get(blobRefOf(avif))).toEqual(avif);
    expect(server.produced()).toHaveLength(1);
  });

  it('refuses a file part that is not an image, naming the formats this deployment takes', async () => {
    const server = makeServer();
    const response = await sendFile(server, Buffer.from('#!/bin/sh\n'), 'photo.jpg');
    expect(response.statusCode).toBe(415);
    expect(response.json().reason).toBe(`file part 1 is not a ${decodableFormatsList()} image`);
    expect(response.json().reason).toMatch(/JPEG, PNG, WebP.* AVIF/);
  });
});

describe('records the broker could never take', () => {
  it('answers 413 to that request only; requests beside it are produced', async () => {
    const server = makeServer({ config: { INGEST_PRODUCER_BATCH_MAX_BYTES: 2_000 } });
    const [big, small] = await Promise.all([
      server.app.inject({
        method: 'POST',
        url: '/v1/interactions',
        payload: [interaction({ type: 'comment', comment: 'x'.repeat(2_000) })],
        headers: auth,
      }),
      server.app.inject({ method: 'POST', url: '/v1/interactions', payload: [interaction()], headers: auth }),
    ]);
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ error: 'record-too-large' });
    expect(small.statusCode).toBe(202);
    expect(server.produced()).toHaveLength(1);
  });
});

describe('while the broker is away', () => {
  it('answers 503 with Retry-After at the produce deadline, then at once until the broker is back', async () => {
    let reachable = true;
    let release: () => void = () => {};
    const hanging = new Promise<void>((resolve) => {
      release = resolve;
    });
    let sendCalls = 0;
    const server = makeServer({
      config: { INGEST_PRODUCE_TIMEOUT_MS: 300 },
      // The send kafkajs keeps retrying while the broker is away.
      sendBatch: async () => {
        sendCalls++;
        if (sendCalls === 1) await hanging;
      },
      brokerReachable: async () => reachable,
    });
    const send = (items: unknown[]) =>
      server.app.inject({ method: 'POST', url: '/v1/interactions', payload: items, headers: auth });

    reachable = false;
    const held = interaction();
    let started = performance.now();
    const first = await send([held]);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(first.statusCode).toBe(503);
    expect(first.headers['retry-after']).toBe('5');
    expect(first.json()).toMatchObject({ error: 'broker-unavailable' });
    expect(first.json().reason).toMatch(/within 300 ms; retry with the same event ids/);

    // The failure made the service look at the broker: now known away, the next request is not
    // queued behind the hanging send but answered at once.
    await new Promise((resolve) => setTimeout(resolve, 20));
    started = performance.now();
    const second = await send([interaction()]);
    expect(performance.now() - started).toBeLessThan(200);
    expect(second.statusCode).toBe(503);
    expect(second.headers['retry-after']).toBe('5');
    expect(second.json()).toMatchObject({ error: 'broker-unavailable' });
    expect(second.json().reason).toMatch(/unreachable; retry with the same event ids/);
    expect(sendCalls).toBe(1);
    expect((await server.app.inject({ url: '/readyz' })).statusCode).toBe(503);

    // Back: the hanging send completes (its record does reach the log: the client re-sends the same
    // event id, and consumers de-duplicate by it). /readyz sees it, and requests are produced again.
    reachable = true;
    release();
    expect((await server.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    const again = await send([held]);
    expect(again.statusCode).toBe(202);
    expect(server.produced().map((p) => p.eventId)).toEqual([held.eventId, held.eventId]);
  });

  it('answers the requests queued behind a hanging send as soon as the broker is known unreachable', async () => {
    let release: () => void = () => {};
    const hanging = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = makeServer({
      config: { INGEST_PRODUCE_TIMEOUT_MS: 5_000 },
      sendBatch: () => hanging,
      brokerReachable: async () => false,
    });
    const send = () =>
      server.app.inject({ method: 'POST', url: '/v1/interactions', payload: [interaction()], headers: auth });
    const inFlight = send();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const queued = send();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.batcher.waiting).toBe(1);
    // /readyz looks at the broker: away. The queued request is answered now, not at its deadline.
    const started = performance.now();
    expect((await server.app.inject({ url: '/readyz' })).statusCode).toBe(503);
    const answer = await queued;
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(answer.statusCode).toBe(503);
    expect(answer.headers['retry-after']).toBe('5');
    expect(answer.json().reason).toMatch(/unreachable; retry with the same event ids/);
    expect(server.batcher.waiting).toBe(0);
    release();
    // The send in flight was acknowledged after all: that request still gets its 202.
    expect((await inFlight).statusCode).toBe(202);
  });

  it('looks at the broker again, at most once a second, as requests arrive', async () => {
    let reachable = false;
    let looks = 0;
    let release: () => void = () => {};
    const hanging = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = makeServer({
      config: { INGEST_PRODUCE_TIMEOUT_MS: 100 },
      sendBatch: () => hanging,
      brokerReachable: async () => {
        looks++;
        return reachable;
      },
    });
    const send = () =>
      server.app.inject({ method: 'POST', url: '/v1/interactions', payload: [interaction()], headers: auth });
    expect((await send()).statusCode).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(looks).toBe(1);
    // Known away: answered at once, without looking again within the second.
    for (let i = 0; i < 5; i++) expect((await send()).statusCode).toBe(503);
    expect(looks).toBe(1);
    reachable = true;
    release();
    await new Promise((resolve) => setTimeout(resolve, 1_050));
    // This one is still refused, but it looks (in the background); the next one is produced.
    expect((await send()).statusCode).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(looks).toBe(2);
    expect((await send()).statusCode).toBe(202);
  });
});

describe('draining', () => {
  it('closes the connection of every answer once draining, so a kept-alive client does not hold the shutdown', async () => {
    const server = makeServer();
    const send = () =>
      server.app.inject({ method: 'POST', url: '/v1/interactions', payload: [interaction()], headers: auth });
    expect((await send()).headers.connection).not.toBe('close');
    server.drain();
    const during = await send();
    expect(during.statusCode).toBe(202);
    expect(during.headers.connection).toBe('close');
    expect((await server.app.inject({ url: '/readyz' })).statusCode).toBe(503);
  });
});
