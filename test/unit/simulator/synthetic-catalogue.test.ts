import { describe, expect, it } from 'vitest';
import { photoRecipe } from '../../../services/simulator/phone-photo.ts';
import {
  feedEntry,
  imageFileName,
  productSvg,
  syntheticProducts,
} from '../../../services/simulator/synthetic-catalogue.ts';

const products = syntheticProducts(1);

describe('syntheticProducts', () => {
  it('has a few hundred unique SKUs across categories, deterministically', () => {
    expect(products.length).toBeGreaterThanOrEqual(200);
    expect(new Set(products.map((p) => p.sku)).size).toBe(products.length);
    expect(new Set(products.map((p) => p.category))).toEqual(
      new Set(['shoes', 'bags', 'dresses', 'bikinis', 'coats', 'tops', 'trousers', 'skirts', 'hats']),
    );
    expect(JSON.stringify(syntheticProducts(1))).toBe(JSON.stringify(products));
    expect(JSON.stringify(syntheticProducts(2))).not.toBe(JSON.stringify(products));
  });

  it('contains the red Wild Thing pump and its colour variants, which differ only in colour', () => {
    const variants = products.filter((p) => p.style === 'SH001');
    expect(variants.map((p) => p.sku)).toEqual(['SH001-RED', 'SH001-BLACK', 'SH001-NUDE']);
    expect(new Set(variants.map((p) => `${p.name}|${p.pattern}|${p.motif}|${p.shape.join()}`)).size).toBe(1);
    expect(variants[0]).toMatchObject({ name: 'Wild Thing Pump', colour: 'red', category: 'shoes' });
  });

  it('never gives two styles of a category the same kind, pattern and motif, nor two SKUs the same SVG', () => {
    const looks = new Set<string>();
    for (const style of new Map(products.map((p) => [p.style, p])).values()) {
      const look = `${style.category}|${style.shape[0]}|${style.pattern}|${style.motif}`;
      expect(looks.has(look)).toBe(false);
      looks.add(look);
    }
    const svgs = new Set(products.map((p) => productSvg(p, 'main').replace(/id="[^"]+"|url\(#[^)]+\)/g, '')));
    expect(svgs.size).toBe(products.length);
  });

  it('writes luma-format feed entries with a main and a back view', () => {
    const entry = feedEntry(products[0]!);
    expect(Object.keys(entry)).toEqual([
      'sku',
      'style',
      'colour',
      'images',
      'name',
      'category',
      'brand',
      'price',
    ]);
    expect(entry.images[0]).toEqual({ file: 'images/sh001-red-0.jpg', view: 'main' });
    expect(entry.images[1]).toEqual({ file: 'images/sh001-red-0_back.jpg', view: 'back' });
    expect(imageFileName(products[0]!, 'alt1')).toBe('sh001-red-0_alt1.jpg');
    for (const product of products) expect(product.views.slice(0, 2)).toEqual(['main', 'back']);
  });
});

describe('photoRecipe', () => {
  it('is deterministic in its seed and stays within bounds', () => {
    expect(photoRecipe(7)).toEqual(photoRecipe(7));
    expect(photoRecipe(7)).not.toEqual(photoRecipe(8));
    for (let seed = 0; seed < 300; seed++) {
      const r = photoRecipe(seed);
      expect(Math.abs(r.rotationDegrees)).toBeLessThanOrEqual(14);
      expect(r.crop.left + r.crop.width).toBeLessThanOrEqual(1.000001);
      expect(r.crop.top + r.crop.height).toBeLessThanOrEqual(1.000001);
      expect(r.jpegQuality).toBeGreaterThanOrEqual(55);
      expect(r.jpegQuality).toBeLessThanOrEqual(92);
      expect(r.productScale).toBeGreaterThan(0.5);
    }
  });

  it('strength 0 gives an undistorted photo', () => {
    const r = photoRecipe(3, 0);
    expect(r).toMatchObject({
      rotationDegrees: 0,
      brightness: 1,
      saturation: 1,
      hueDegrees: 0,
      blurSigma: 0,
      productScale: 1,
    });
    expect(r.crop).toMatchObject({ width: 1, height: 1 });
  });
});
