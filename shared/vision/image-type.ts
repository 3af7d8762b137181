/**
 * What image a body really is, by its magic numbers (never by a Content-Type, a multipart header or
 * a file name): the one sniffer for every edge that takes image bytes — ingest's uploads, the URL
 * image fetcher, the notifier's blob route. Which of these types an edge accepts is its own policy.
 *
 * HEIF is a container (ISO-BMFF `ftyp` box) told apart by its major brand: AVIF (`avif`, `avis`),
 * HEIC (`heic`, `heix`, `hevc`, `hevx`) and the generic HEIF brands (`mif1`, `msf1`), whose coding
 * is only known from the image header. Whether a HEIF image can be decoded depends on its coding and
 * the installed decoder: see heif-support.ts.
 */

export type ImageType =
  | 'image/jpeg'
  | 'image/png'
  | 'image/gif'
  | 'image/webp'
  | 'image/tiff'
  | 'image/avif'
  | 'image/heic'
  | 'image/heif';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const HEIF_BRANDS: Readonly<Record<string, ImageType>> = {
  avif: 'image/avif',
  avis: 'image/avif',
  heic: 'image/heic',
  heix: 'image/heic',
  hevc: 'image/heic',
  hevx: 'image/heic',
  mif1: 'image/heif',
  msf1: 'image/heif',
};

const latin1 = (bytes: Buffer, start: number, end: number) => bytes.subarray(start, end).toString('latin1');

/** The raster image type of `bytes`, or null for anything else (markup, documents, too short). */
export function sniffImageType(bytes: Buffer): ImageType | null {
  // SOI, then a marker (0xFF and its code).
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return 'image/png';
  if (bytes.length >= 6 && /^GIF8[79]a$/.test(latin1(bytes, 0, 6))) return 'image/gif';
  if (bytes.length >= 12 && latin1(bytes, 0, 4) === 'RIFF' && latin1(bytes, 8, 12) === 'WEBP')
    return 'image/webp';
  if (bytes.length >= 12 && latin1(bytes, 4, 8) === 'ftyp') {
    const type = HEIF_BRANDS[latin1(bytes, 8, 12)];
    if (type) return type;
  }
  if (bytes.length >= 4 && (latin1(bytes, 0, 4) === 'II*\0' || latin1(bytes, 0, 4) === 'MM\0*'))
    return 'image/tiff';
  return null;
}

/**
 * True for the HEIF family (AVIF, HEIC, generic HEIF): the signature alone does not tell whether the
 * image can be decoded, so an edge checks these against the decoder (`checkHeifDecodable`).
 */
export function isHeifType(type: string): boolean {
  return type === 'image/avif' || type === 'image/heic' || type === 'image/heif';
}
