/**
 * Test photos and helpers for the embedder, all generated here (no binaries in the repo): catalogue
 * photos in awkward encodings that must be processed, images that must be refused, a local HTTPS
 * server with a self-signed certificate, and upload records.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import type { Upload } from '../../../shared/contracts/events.ts';
import { selfSignedCertificate } from '../../support/tls.ts';

/** Stored pixels turned a quarter left, EXIF orientation 6 says "turn right to display": upright once oriented. */
export async function exifRotated(jpeg: Buffer): Promise<Buffer> {
  return sharp(jpeg).rotate(-90).jpeg().withMetadata({ orientation: 6 }).toBuffer();
}

export const cmykJpeg = (source: Buffer) => sharp(source).toColourspace('cmyk').jpeg().toBuffer();
export const png16 = (source: Buffer) => sharp(source).toColourspace('rgb16').png().toBuffer();

/** First frame the product, second frame something else. */
export async function animatedGif(source: Buffer): Promise<Buffer> {
  const first = await sharp(source)
    .resize(300, 300, { fit: 'contain', background: '#ffffff' })
    .png()
    .toBuffer();
  const second = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#20a020' } })
    .png()
    .toBuffer();
  return sharp([first, second], { join: { animated: true } })
    .gif()
    .toBuffer();
}

/** A red square on white: nothing of the catalogue. */
export function unrelatedPhoto(): Promise<Buffer> {
  return sharp({ create: { width: 600, height: 600, channels: 3, background: '#ffffff' } })
    .composite([
      {
        input: { create: { width: 240, height: 240, channels: 3, background: '#e01010' } },
        left: 180,
        top: 180,
      },
    ])
    .jpeg()
    .toBuffer();
}

export const truncatedJpeg = (jpeg: Buffer) => jpeg.subarray(0, Math.floor(jpeg.length / 2));
export const svgImage = () =>
  Buffer.from(
    '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400"><rect width="400" height="400" fill="red"/></svg>',
  );
export const notAnImage = () => Buffer.from('this is a caption, not a photo\n'.repeat(20));

/** A valid PNG header claiming 30000×30000 pixels (a decompression bomb) with a tiny body. */
export function hugePng(side = 30_000): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.from([0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export interface TestHttpsServer {
  port: number;
  caFile: string;
  url(path: string): string;
  close(): Promise<void>;
}

/**
 * https://localhost:<port>: /photo.jpg serves `photo`, /slow never answers, /to-private redirects
 * to the loopback address by IP (which the SSRF rules refuse; only the host name `localhost` is
 * allow-listed in the tests).
 */
export async function startHttpsServer(dir: string, photo: Buffer): Promise<TestHttpsServer> {
  const { key, cert, certPath } = selfSignedCertificate(dir, 'localhost', ['IP:127.0.0.1']);
  const hanging = new Set<import('node:http').ServerResponse>();
  const server: Server = createServer({ key, cert }, (req, res) => {
    if (req.url === '/photo.jpg') {
      res.writeHead(200, { 'content-type': 'text/plain' }); // sniffed, not trusted
      res.end(photo);
    } else if (req.url === '/slow') {
      hanging.add(res);
    } else if (req.url === '/to-private') {
      res.writeHead(302, { location: `https://127.0.0.1:${port}/photo.jpg` });
      res.end();
    } else {
      res.writeHead(404).end();
    }
  });
  // Every interface (IPv4 and IPv6): `localhost` may resolve to either.
  await new Promise<void>((resolve) => server.listen(0, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    caFile: certPath,
    url: (path) => `https://localhost:${port}${path}`,
    close: () =>
      new Promise((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let counter = 0;
/** Yesterday 10:00 UTC: recent, as the broker deletes records older than a topic's retention. */
const YESTERDAY_MORNING = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 - 14 * 3_600_000);

export function upload(id: string, images: Upload['images'], at = YESTERDAY_MORNING): Upload {
  counter++;
  return {
    eventId: `evt-${id}`,
    postId: `post-${id}`,
    memberId: `member-${counter % 7}`,
    images,
    caption: '',
    hashtags: [],
    location: { country: 'GB', city: 'London' },
    clientTimestamp: new Date(at.getTime() + counter * 1000).toISOString(),
    receivedAt: new Date(at.getTime() + counter * 1000 + 500).toISOString(),
    source: 'test',
  };
}
