/**
 * The one image sniffer (shared/vision/image-type.ts) that ingest, the URL image fetcher and the
 * notifier's blob route use: raster formats by their magic numbers, HEIF by its major brand.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { isHeifType, sniffImageType } from '../../../shared/vision/image-type.ts';

const ftyp = (brand: string) => Buffer.from(`\0\0\0\x1cftyp${brand}\0\0\0\0mif1miaf`, 'latin1');

describe('sniffImageType', () => {
  it('recognises raster formats by their magic numbers, whatever the server claims', async () => {
    const base = sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } });
    expect(sniffImageType(await base.clone().jpeg().toBuffer())).toBe('image/jpeg');
    expect(sniffImageType(await base.clone().png().toBuffer())).toBe('image/png');
    expect(sniffImageType(await base.clone().gif().toBuffer())).toBe('image/gif');
    expect(sniffImageType(await base.clone().webp().toBuffer())).toBe('image/webp');
    expect(sniffImageType(await base.clone().tiff().toBuffer())).toBe('image/tiff');
    expect(sniffImageType(await base.clone().avif().toBuffer())).toBe('image/avif');
  });

  it('tells the HEIF family apart by its major brand', () => {
    for (const brand of ['avif', 'avis']) expect(sniffImageType(ftyp(brand))).toBe('image/avif');
    for (const brand of ['heic', 'heix', 'hevc', 'hevx'])
      expect(sniffImageType(ftyp(brand))).toBe('image/heic');
    for (const brand of ['mif1', 'msf1']) expect(sniffImageType(ftyp(brand))).toBe('image/heif');
    // An ISO-BMFF file that is not an image (an MP4 video).
    expect(sniffImageType(ftyp('isom'))).toBeNull();
    for (const type of ['image/avif', 'image/heic', 'image/heif']) expect(isHeifType(type)).toBe(true);
    for (const type of ['image/jpeg', 'image/png', 'image/webp']) expect(isHeifType(type)).toBe(false);
  });

  it('rejects documents, markup, truncated signatures and empty bodies', () => {
    expect(sniffImageType(Buffer.alloc(0))).toBeNull();
    expect(sniffImageType(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeNull();
    expect(sniffImageType(Buffer.from('<!doctype html><title>404</title>'))).toBeNull();
    expect(sniffImageType(Buffer.from('%PDF-1.7'))).toBeNull();
    expect(sniffImageType(Buffer.from([0xff, 0xd8]))).toBeNull();
    expect(sniffImageType(Buffer.from([0xff, 0xd8, 0xff]))).toBeNull();
    expect(sniffImageType(Buffer.from([0x89, 0x50, 0x4e, 0x47]))).toBeNull();
    expect(sniffImageType(Buffer.from('GIF8'))).toBeNull();
    expect(sniffImageType(Buffer.from('RIFF\0\0\0\0WAVE'))).toBeNull();
  });
});
