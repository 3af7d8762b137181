/**
 * A HEIC as an iPhone writes it, as far as a decoder's first look goes: brand `heic`, an image item
 * of type `hvc1` with an `hvcC` decoder configuration. Made from a small AVIF that sharp encodes:
 * the AV1 configuration box is swapped for an HEVC one, the item type and brands renamed, and the
 * sizes and item offsets that the longer box moves are corrected. The payload stays AV1 bytes, but a
 * build without an HEVC decoder refuses the image on its coding, before reading the payload, exactly
 * as it refuses a real one; and sharp's header reads it as `{ format: 'heif', compression: 'hevc' }`.
 */
import sharp from 'sharp';

interface Box {
  type: string;
  start: number;
  size: number;
}

function childBoxes(buf: Buffer, from: number, to: number): Box[] {
  const out: Box[] = [];
  for (let at = from; at + 8 <= to; ) {
    const size = buf.readUInt32BE(at);
    if (size < 8) throw new Error(`box at ${at}: size ${size} (not handled by this fixture)`);
    out.push({ type: buf.toString('latin1', at + 4, at + 8), start: at, size });
    at += size;
  }
  return out;
}

function child(boxes: Box[], type: string): Box {
  const found = boxes.find((b) => b.type === type);
  if (!found) throw new Error(`no ${type} box in the AVIF sharp wrote`);
  return found;
}

/** HEVCDecoderConfigurationRecord (ISO/IEC 14496-15): Main profile, level 3.1, 4:2:0, 8 bits, no NAL arrays. */
function hvcCBox(): Buffer {
  // biome-ignore format: one field per line
  const record = Buffer.from([
    0x01, // configurationVersion
    0x01, // profile space 0, tier 0, profile Main
    0x60, 0x00, 0x00, 0x00, // profile compatibility flags
    0x90, 0x00, 0x00, 0x00, 0x00, 0x00, // constraint indicator flags
    0x5d, // level 3.1
    0xf0, 0x00, // min spatial segmentation
    0xfc, // parallelism type
    0xfd, // chroma format 4:2:0
    0xf8, // luma bit depth 8
    0xf8, // chroma bit depth 8
    0x00, 0x00, // average frame rate
    0x0f, // length size 4
    0x00, // no arrays
  ]);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + record.length, 0);
  header.write('hvcC', 4, 'latin1');
  return Buffer.concat([header, record]);
}

/** Adds `delta` to every file offset in an iloc box (construction method 0: offsets into the file). */
function shiftItemOffsets(buf: Buffer, iloc: Box, delta: number): void {
  let at = iloc.start + 8;
  const version = buf[at]!;
  at += 4;
  const offsetSize = buf[at]! >> 4;
  const lengthSize = buf[at]! & 0x0f;
  const baseOffsetSize = buf[at + 1]! >> 4;
  const indexSize = version >= 1 ? buf[at + 1]! & 0x0f : 0;
  at += 2;
  const itemCount = version < 2 ? buf.readUInt16BE(at) : buf.readUInt32BE(at);
  at += version < 2 ? 2 : 4;
  const shift = (size: number) => {
    if (size === 4) buf.writeUInt32BE(buf.readUInt32BE(at) + delta, at);
    else if (size === 8) buf.writeBigUInt64BE(buf.readBigUInt64BE(at) + BigInt(delta), at);
    else if (size !== 0) throw new Error(`iloc field of ${size} bytes`);
  };
  for (let item = 0; item < itemCount; item++) {
    at += version < 2 ? 2 : 4; // item_ID
    let method = 0;
    if (version >= 1) {
      method = buf.readUInt16BE(at) & 0x0f;
      at += 2;
    }
    at += 2; // data_reference_index
    const viaBase = method === 0 && baseOffsetSize > 0;
    if (viaBase) shift(baseOffsetSize);
    at += baseOffsetSize;
    const extents = buf.readUInt16BE(at);
    at += 2;
    for (let extent = 0; extent < extents; extent++) {
      at += indexSize;
      if (method === 0 && !viaBase) shift(offsetSize);
      at += offsetSize + lengthSize;
    }
  }
}

/** Renames the type of every `av01` item of an iinf box (infe version 2 or 3) to `hvc1`. */
function renameItemTypes(buf: Buffer, iinf: Box): void {
  const version = buf[iinf.start + 8]!;
  const first = iinf.start + 12 + (version === 0 ? 2 : 4);
  for (const infe of childBoxes(buf, first, iinf.start + iinf.size)) {
    const infeVersion = buf[infe.start + 8]!;
    if (infe.type !== 'infe' || infeVersion < 2) continue;
    const typeAt = infe.start + 12 + (infeVersion === 2 ? 2 : 4) + 2;
    if (buf.toString('latin1', typeAt, typeAt + 4) === 'av01') buf.write('hvc1', typeAt, 'latin1');
  }
}

/** Brand `heic` in place of `avif` (major and compatible brands). */
function rebrand(buf: Buffer, ftyp: Box): void {
  for (let at = ftyp.start + 8; at + 4 <= ftyp.start + ftyp.size; at += 4) {
    if (at === ftyp.start + 12) continue; // minor version
    if (buf.toString('latin1', at, at + 4) === 'avif') buf.write('heic', at, 'latin1');
  }
}

export async function heicPhoto(width = 64, height = 48): Promise<Buffer> {
  const avif = await sharp({ create: { width, height, channels: 3, background: '#2a6fc0' } })
    .avif()
    .toBuffer();
  const top = childBoxes(avif, 0, avif.length);
  const meta = child(top, 'meta');
  const inMeta = childBoxes(avif, meta.start + 12, meta.start + meta.size);
  const iprp = child(inMeta, 'iprp');
  const ipco = child(childBoxes(avif, iprp.start + 8, iprp.start + iprp.size), 'ipco');
  const av1C = child(childBoxes(avif, ipco.start + 8, ipco.start + ipco.size), 'av1C');
  const hvcC = hvcCBox();
  const delta = hvcC.length - av1C.size;
  const heic = Buffer.concat([avif.subarray(0, av1C.start), hvcC, avif.subarray(av1C.start + av1C.size)]);
  // The boxes that contain av1C grow; everything after it (the image data in mdat) moves.
  for (const grown of [ipco, iprp, meta]) heic.writeUInt32BE(grown.size + delta, grown.start);
  // iloc and iinf come before the properties in what sharp writes, so they have not moved.
  const iloc = child(inMeta, 'iloc');
  const iinf = child(inMeta, 'iinf');
  if (iloc.start > av1C.start || iinf.start > av1C.start) throw new Error('unexpected box order in the AVIF');
  shiftItemOffsets(heic, iloc, delta);
  renameItemTypes(heic, iinf);
  rebrand(heic, child(top, 'ftyp'));
  return heic;
}

/** The AVIF (AV1-coded HEIF) that sharp itself writes. */
export async function avifPhoto(width = 64, height = 48): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#2a6fc0' } })
    .avif()
    .toBuffer();
}
