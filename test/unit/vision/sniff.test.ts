import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { sniffImageType } from '../../../shared/net/image-fetcher.ts';

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

  it('rejects documents, markup and empty bodies', () => {
    expect(sniffImageType(Buffer.alloc(0))).toBeNull();
    expect(sniffImageType(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeNull();
    expect(sniffImageType(Buffer.from('<!doctype html><title>404</title>'))).toBeNull();
    expect(sniffImageType(Buffer.from('%PDF-1.7'))).toBeNull();
    expect(sniffImageType(Buffer.from([0xff, 0xd8]))).toBeNull();
  });
});
