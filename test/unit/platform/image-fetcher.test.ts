import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FetchOptions, ImageFetcher, PermanentFetchError } from '../../../shared/net/image-fetcher.ts';
import { avifPhoto, heicPhoto } from '../../support/heic.ts';
import { selfSignedCertificate } from '../../support/tls.ts';

const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);
/** Only the test resolvers know this name: a connection to it used their answer, not the OS's. */
const HOST = 'images.test';

let dir: string;
let cert: Buffer;
let server: Server;
let port: number;
let connections = 0;
/** Requests per path, to see that a refusal is not retried. */
const requests = new Map<string, number>();
let heic: Buffer;
let avif: Buffer;
const timers = new Set<NodeJS.Timeout>();

beforeAll(async () => {
  [heic, avif] = await Promise.all([heicPhoto(), avifPhoto()]);
  dir = mkdtempSync(join(tmpdir(), 'image-fetcher-'));
  const identity = selfSignedCertificate(dir, HOST);
  cert = identity.cert;
  server = createServer({ key: identity.key, cert }, (req, res) => {
    requests.set(req.url ?? '', (requests.get(req.url ?? '') ?? 0) + 1);
    if (req.url === '/IMG_0001.HEIC') {
      res.writeHead(200, { 'content-type': 'image/heic' }).end(heic);
    } else if (req.url === '/photo.avif') {
      res.writeHead(200, { 'content-type': 'image/avif' }).end(avif);
    } else if (req.url === '/drip') {
      // A byte every 100 ms: never silent for as long as the read timeout, never finished.
      res.writeHead(200, { 'content-type': 'image/png' });
      res.write(png);
      const timer = setInterval(() => res.write(Buffer.alloc(1)), 100);
      timers.add(timer);
      res.on('close', () => clearInterval(timer));
    } else if (req.url === '/hang') {
      // Never answers.
    } else {
      res.writeHead(200).end(png);
    }
  });
  server.on('secureConnection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const timer of timers) clearInterval(timer);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const url = (path: string) => `https://${HOST}:${port}${path}`;

function fetcher(resolve: (host: string) => Promise<string[]>, options: Partial<FetchOptions> = {}) {
  return new ImageFetcher({ ca: cert, attempts: 2, backoffMs: 10, policy: { resolve }, ...options });
}

function dnsError(code: string): Error {
  return Object.assign(new Error(`getaddrinfo ${code} ${HOST}`), { code });
}

describe('ImageFetcher: DNS rebinding', () => {
  it('connects to the address it checked: a second, private answer is refused, and nothing connects', async () => {
    let calls = 0;
    const f = fetcher(async () => (++calls % 2 === 1 ? ['93.184.216.34'] : ['127.0.0.1']));
    const before = connections;
    try {
      const result = f.fetch(url('/a.png'));
      await expect(result).rejects.toBeInstanceOf(PermanentFetchError);
      await expect(result).rejects.toThrow(/refused .*127\.0\.0\.1/);
      expect(calls).toBe(2); // the check, then the connection's own lookup: no third, unchecked one
      expect(connections).toBe(before);
    } finally {
      await f.close();
    }
  });

  it('uses the policy resolver for the connection (allow-listed host)', async () => {
    const f = new ImageFetcher({
      ca: cert,
      policy: { allowHosts: [HOST], resolve: async () => ['127.0.0.1'] },
    });
    try {
      const result = await f.fetch(url('/a.png'));
      expect(result.contentType).toBe('image/png');
    } finally {
      await f.close();
    }
  });
});

describe('ImageFetcher: DNS failures', () => {
  it('retries a temporary DNS failure (EAI_AGAIN) as transient', async () => {
    let calls = 0;
    const f = new ImageFetcher({
      ca: cert,
      attempts: 3,
      backoffMs: 10,
      policy: {
        allowHosts: [HOST],
        resolve: async () => {
          if (++calls === 1) throw dnsError('EAI_AGAIN');
          return ['127.0.0.1'];
        },
      },
    });
    try {
      await expect(f.fetch(url('/a.png'))).resolves.toMatchObject({ contentType: 'image/png' });
      expect(calls).toBe(2);
    } finally {
      await f.close();
    }
  });

  it('gives up on a name that does not exist (ENOTFOUND) at once', async () => {
    let calls = 0;
    const f = fetcher(async () => {
      calls++;
      throw dnsError('ENOTFOUND');
    });
    try {
      await expect(f.fetch(url('/a.png'))).rejects.toThrow(/refused .*cannot resolve/);
      expect(calls).toBe(1);
    } finally {
      await f.close();
    }
  });
});

describe('ImageFetcher: one deadline per fetch', () => {
  it('stops a body that trickles in just inside the read timeout', async () => {
    const f = new ImageFetcher({
      ca: cert,
      readTimeoutMs: 1_000,
      deadlineMs: 1_200,
      attempts: 3,
      backoffMs: 10,
      policy: { allowHosts: [HOST], resolve: async () => ['127.0.0.1'] },
    });
    const started = Date.now();
    try {
      await expect(f.fetch(url('/drip'))).rejects.toThrow(/deadline of 1200 ms/);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await f.close();
    }
  });

  it('stops waiting for headers at the deadline, not after attempts × the read timeout', async () => {
    const f = new ImageFetcher({
      ca: cert,
      readTimeoutMs: 10_000,
      deadlineMs: 500,
      attempts: 3,
      policy: { allowHosts: [HOST], resolve: async () => ['127.0.0.1'] },
    });
    const started = Date.now();
    try {
      const result = f.fetch(url('/hang'));
      await expect(result).rejects.toBeInstanceOf(PermanentFetchError);
      await expect(result).rejects.toThrow(/deadline/);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await f.close();
    }
  });
});

describe('ImageFetcher: images the decoder cannot read', () => {
  const allowed = () =>
    new ImageFetcher({
      ca: cert,
      attempts: 3,
      backoffMs: 10,
      policy: { allowHosts: [HOST], resolve: async () => ['127.0.0.1'] },
    });

  // The pinned sharp's libvips has no HEVC decoder (heif-support.test.ts checks it).
  it('refuses a HEIC (HEVC) image for good, saying it is not supported here, without retrying', async () => {
    const f = allowed();
    try {
      const result = f.fetch(url('/IMG_0001.HEIC'));
      await expect(result).rejects.toBeInstanceOf(PermanentFetchError);
      await expect(result).rejects.toThrow(
        /IMG_0001\.HEIC returned an image that cannot be decoded: HEIC \(HEVC-coded HEIF\) is not supported by this deployment.*send JPEG, PNG, WebP or AVIF/,
      );
      expect(requests.get('/IMG_0001.HEIC')).toBe(1);
    } finally {
      await f.close();
    }
  });

  it('fetches an AVIF (AV1-coded HEIF) image', async () => {
    const f = allowed();
    try {
      const result = await f.fetch(url('/photo.avif'));
      expect(result.contentType).toBe('image/avif');
      expect(result.bytes).toEqual(avif);
    } finally {
      await f.close();
    }
  });
});
