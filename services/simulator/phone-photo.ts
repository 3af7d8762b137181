/**
 * Turns a catalogue studio shot into what a member's phone would upload: the product cut out of its
 * studio backdrop and placed on a cluttered background (floor, table, bag, plant…), scaled, rotated, cropped off-centre, lit warm or
 * cold, brighter or darker, sometimes out of focus, JPEG-compressed. Deterministic in `seed`.
 *
 * `photoRecipe` (pure) decides the distortions; `renderPhonePhoto` applies them with sharp.
 */
import sharp from 'sharp';
import { createRng } from './scenario.ts';

export interface PhotoRecipe {
  /** Canvas (the scene) size; the product is scaled to `productScale` of its width. */
  sceneWidth: number;
  sceneHeight: number;
  productScale: number;
  /** Product centre in the scene, as fractions. */
  productX: number;
  productY: number;
  backgroundSvg: string;
  rotationDegrees: number;
  /** Crop of the rotated scene (fractions of its size). */
  crop: { left: number; top: number; width: number; height: number };
  outputLongSide: number;
  brightness: number;
  saturation: number;
  hueDegrees: number;
  /** Per-channel gain (colour cast of the light). */
  cast: [number, number, number];
  blurSigma: number;
  jpegQuality: number;
}

const FLOORS = ['#d9cbb5', '#c9c3bb', '#e6e0d6', '#b9a68c', '#d4d8dc', '#e9dfd2', '#cfc6d2'];
const CLUTTER = ['#8c7b6b', '#6f8fa6', '#a7b59a', '#c49a7a', '#9a8fb5', '#7a7a7a', '#b5a46f', '#d1b1a1'];

/** The distortions of one photo. `strength` 0 gives a near-studio photo, 1 a hard one. */
export function photoRecipe(seed: number, strength = 1): PhotoRecipe {
  const rng = createRng(seed);
  const between = (low: number, high: number) => low + rng() * (high - low);
  const s = Math.max(0, Math.min(1, strength));
  const sceneWidth = 600;
  const sceneHeight = 750;
  const floor = FLOORS[Math.floor(rng() * FLOORS.length)]!;
  const shapes: string[] = [];
  const clutterCount = Math.round(between(2, 9) * s);
  for (let i = 0; i < clutterCount; i++) {
    const colour = CLUTTER[Math.floor(rng() * CLUTTER.length)]!;
    const x = Math.round(between(0, sceneWidth));
    const y = Math.round(between(0, sceneHeight));
    const size = Math.round(between(40, 180));
    const opacity = between(0.35, 0.8).toFixed(2);
    shapes.push(
      rng() < 0.5
        ? `<rect x="${x - size / 2}" y="${y - size / 2}" width="${size}" height="${Math.round(size * between(0.4, 1.4))}" rx="${Math.round(size * 0.1)}" fill="${colour}" opacity="${opacity}" transform="rotate(${Math.round(between(-40, 40))} ${x} ${y})"/>`
        : `<ellipse cx="${x}" cy="${y}" rx="${size / 2}" ry="${Math.round((size / 2) * between(0.5, 1))}" fill="${colour}" opacity="${opacity}"/>`,
    );
  }
  // Floorboards or tiles: long straight edges, as in real rooms.
  const plank = Math.round(between(60, 140));
  const lines = Array.from(
    { length: Math.ceil(sceneHeight / plank) },
    (_, i) =>
      `<line x1="0" y1="${i * plank}" x2="${sceneWidth}" y2="${i * plank + between(-30, 30)}" stroke="#00000018" stroke-width="3"/>`,
  ).join('');
  const backgroundSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="${sceneWidth}" height="${sceneHeight}"><rect width="100%" height="100%" fill="${floor}"/>${lines}${shapes.join('')}</svg>`;

  const cropSize = 1 - between(0, 0.3) * s;
  const cropAspect = 1 + between(-0.1, 0.1) * s;
  const width = Math.min(1, cropSize * cropAspect);
  const height = Math.min(1, cropSize / cropAspect);
  // Phones auto-expose and auto-white-balance: casts and exposure errors stay moderate.
  const warm = between(-1, 1) * 0.06 * s;
  return {
    sceneWidth,
    sceneHeight,
    productScale: 1 - between(0.1, 0.45) * s,
    productX: 0.5 + between(-0.12, 0.12) * s,
    productY: 0.5 + between(-0.1, 0.1) * s,
    backgroundSvg,
    rotationDegrees: between(-14, 14) * s || 0,
    crop: { left: between(0, 1 - width), top: between(0, 1 - height), width, height },
    outputLongSide: Math.round(between(400, 800)),
    brightness: 1 + between(-0.18, 0.18) * s,
    saturation: 1 + between(-0.15, 0.15) * s,
    hueDegrees: Math.round(between(-4, 4) * s) || 0,
    cast: [1 + warm, 1, 1 - warm],
    blurSigma: rng() < 0.4 * s ? between(0.5, 2.2) : 0,
    jpegQuality: Math.round(between(55, 92 - 10 * s)),
  };
}

/** A studio shot decoded and scaled once, cut out from its backdrop, reused for every photo of it. */
export interface StudioShot {
  /** RGBA: alpha 0 where the studio backdrop was. */
  data: Buffer;
  width: number;
  height: number;
}

export async function loadStudioShot(bytes: Buffer, width = 600): Promise<StudioShot> {
  const { data: rgb, info } = await sharp(bytes)
    .resize({ width, withoutEnlargement: true })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const alpha = await sharp(backdropMask(rgb, info.width, info.height), {
    raw: { width: info.width, height: info.height, channels: 1 },
  })
    .blur(1.2) // soft edges, as a real object against a floor
    .extractChannel(0) // sharp widens a one-channel image to three on the way
    .raw()
    .toBuffer();
  const data = Buffer.alloc(info.width * info.height * 4);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    data[j] = rgb[i]!;
    data[j + 1] = rgb[i + 1]!;
    data[j + 2] = rgb[i + 2]!;
    data[j + 3] = alpha[i / 3]!;
  }
  return { data, width: info.width, height: info.height };
}

/**
 * Opacity per pixel: 0 where the colour is the studio backdrop's (the median of the border pixels),
 * rising to 255 within a few levels of difference. Studio backdrops are even, so this cut-out is clean.
 */
export function backdropMask(rgb: Buffer, width: number, height: number): Buffer {
  const border: number[][] = [[], [], []];
  const sample = (x: number, y: number) => {
    const i = (y * width + x) * 3;
    for (let c = 0; c < 3; c++) border[c]!.push(rgb[i + c]!);
  };
  for (let x = 0; x < width; x += 2) {
    sample(x, 0);
    sample(x, height - 1);
  }
  for (let y = 0; y < height; y += 2) {
    sample(0, y);
    sample(width - 1, y);
  }
  const backdrop = border.map((values) => values.sort((a, b) => a - b)[values.length >> 1]!);
  const mask = Buffer.alloc(width * height);
  for (let p = 0, i = 0; p < mask.length; p++, i += 3) {
    const distance = Math.max(
      Math.abs(rgb[i]! - backdrop[0]!),
      Math.abs(rgb[i + 1]! - backdrop[1]!),
      Math.abs(rgb[i + 2]! - backdrop[2]!),
    );
    mask[p] = Math.max(0, Math.min(255, (distance - 10) * 16));
  }
  return mask;
}

const rawOf = (shot: { width: number; height: number }, channels: 3 | 4 = 3) => ({
  raw: { width: shot.width, height: shot.height, channels },
});

/** Renders the phone-like JPEG of a studio shot. */
export async function renderPhonePhoto(studio: StudioShot, recipe: PhotoRecipe): Promise<Buffer> {
  const productWidth = Math.round(recipe.sceneWidth * recipe.productScale);
  const product = await sharp(studio.data, rawOf(studio, 4))
    .resize({ width: productWidth })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const left = Math.round(recipe.sceneWidth * recipe.productX - product.info.width / 2);
  const top = Math.round(recipe.sceneHeight * recipe.productY - product.info.height / 2);
  const visible = visiblePart(product.info, left, top, recipe.sceneWidth, recipe.sceneHeight);
  const placed = await sharp(product.data, rawOf(product.info, 4)).extract(visible).raw().toBuffer();
  const scene = await sharp(Buffer.from(recipe.backgroundSvg))
    .composite([
      // A contact shadow under the product, then the cut-out product over the scene.
      {
        input: Buffer.from(
          `<svg xmlns="http://www.w3.org/2000/svg" width="${recipe.sceneWidth}" height="${recipe.sceneHeight}"><ellipse cx="${left + product.info.width / 2}" cy="${top + product.info.height * 0.9}" rx="${product.info.width * 0.38}" ry="${product.info.height * 0.04}" fill="#000" opacity="0.18"/></svg>`,
        ),
        left: 0,
        top: 0,
      },
      {
        input: placed,
        raw: { width: visible.width, height: visible.height, channels: 4 },
        left: Math.max(0, left),
        top: Math.max(0, top),
      },
    ])
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const rotated = await sharp(scene.data, rawOf(scene.info))
    .rotate(recipe.rotationDegrees, { background: '#c8c2ba' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width, height } = rotated.info;
  // Crop inside the rotated frame, away from its filled corners.
  const inset = Math.abs(Math.sin((recipe.rotationDegrees * Math.PI) / 180)) * 0.5;
  const usableW = width * (1 - inset);
  const usableH = height * (1 - inset);
  const crop = {
    left: Math.round(width * inset * 0.5 + recipe.crop.left * usableW),
    top: Math.round(height * inset * 0.5 + recipe.crop.top * usableH),
    width: Math.max(16, Math.round(recipe.crop.width * usableW)),
    height: Math.max(16, Math.round(recipe.crop.height * usableH)),
  };
  crop.width = Math.min(crop.width, width - crop.left);
  crop.height = Math.min(crop.height, height - crop.top);
  let pipeline = sharp(rotated.data, { raw: { width, height, channels: rotated.info.channels } })
    .extract(crop)
    .resize({ width: recipe.outputLongSide, height: recipe.outputLongSide, fit: 'inside' })
    .modulate({ brightness: recipe.brightness, saturation: recipe.saturation, hue: recipe.hueDegrees })
    .linear(recipe.cast, [0, 0, 0]);
  if (recipe.blurSigma > 0.3) pipeline = pipeline.blur(recipe.blurSigma);
  return pipeline.jpeg({ quality: recipe.jpegQuality }).toBuffer();
}

/** The region of the product image that lies inside the scene when placed at (left, top). */
function visiblePart(
  size: { width: number; height: number },
  left: number,
  top: number,
  sceneWidth: number,
  sceneHeight: number,
): { left: number; top: number; width: number; height: number } {
  const x = Math.max(0, -left);
  const y = Math.max(0, -top);
  return {
    left: x,
    top: y,
    width: Math.min(size.width - x, sceneWidth - Math.max(0, left)),
    height: Math.min(size.height - y, sceneHeight - Math.max(0, top)),
  };
}
