/**
 * A synthetic fashion catalogue the project renders itself (offline, from SVG, with sharp), in
 * exactly the luma feed format: `catalogue.json` (sku, style, colour, images[{file, view}], name,
 * category, price — plus brand) and `images/`. Every SKU looks different from every other:
 * silhouette by category and style (heel height, toe, flare, length, handles…), colour, a pattern
 * (stripes, dots, check, chevrons, leopard, …) and a motif (star, heart, bow, ring, chain…) in an
 * accent colour. Colour variants of one style share everything but the colour: the hard negatives.
 * It always contains the red "Wild Thing" pump and its black and nude variants.
 *
 * `syntheticProducts` and `productSvg` are pure; `writeSyntheticCatalogue` does the rendering and I/O.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRng } from './scenario.ts';

export interface SyntheticStyle {
  style: string;
  category: Category;
  name: string;
  brand: string;
  price: number;
  shape: number[];
  pattern: Pattern;
  motif: Motif;
  accent: string;
}

export interface SyntheticProduct extends SyntheticStyle {
  sku: string;
  colour: string;
  hex: string;
  views: View[];
}

export type View = 'main' | 'back' | 'alt1';
export type Category =
  | 'shoes'
  | 'bags'
  | 'dresses'
  | 'bikinis'
  | 'coats'
  | 'tops'
  | 'trousers'
  | 'skirts'
  | 'hats';
export type Pattern = 'solid' | 'stripes' | 'dots' | 'check' | 'chevron' | 'leopard' | 'diagonal' | 'grid';
export type Motif = 'none' | 'star' | 'heart' | 'bow' | 'ring' | 'chain' | 'diamond' | 'flower';

export const COLOURS: Readonly<Record<string, string>> = {
  red: '#c8102e',
  black: '#1c1c1e',
  nude: '#d8b596',
  white: '#f2efe8',
  navy: '#1f2a4d',
  camel: '#b98a55',
  green: '#2d6a3e',
  pink: '#e79ab4',
  blue: '#2f6fc0',
  yellow: '#e8c23a',
  burgundy: '#6a1b2e',
  grey: '#85888d',
  orange: '#e0692a',
  purple: '#6a48a0',
  teal: '#177a78',
  brown: '#5a3826',
  silver: '#b9bcc4',
  gold: '#c8a040',
};

const CATEGORY_CODES: Record<Category, string> = {
  shoes: 'SH',
  bags: 'BG',
  dresses: 'DR',
  bikinis: 'BK',
  coats: 'CT',
  tops: 'TP',
  trousers: 'TR',
  skirts: 'SK',
  hats: 'HT',
};

const KINDS: Record<Category, string[]> = {
  shoes: ['Pump', 'Sneaker', 'Ankle Boot', 'Sandal', 'Loafer', 'Slingback'],
  bags: ['Tote', 'Clutch', 'Crossbody Bag', 'Backpack', 'Bucket Bag'],
  dresses: ['Midi Dress', 'Mini Dress', 'Maxi Dress', 'Wrap Dress', 'Slip Dress'],
  bikinis: ['Triangle Bikini', 'Bandeau Bikini', 'Halter Bikini'],
  coats: ['Trench Coat', 'Wool Coat', 'Puffer Jacket', 'Biker Jacket'],
  tops: ['Silk Blouse', 'Cotton Tee', 'Knit Tank'],
  trousers: ['Wide-Leg Trousers', 'Cigarette Trousers', 'Cargo Pants'],
  skirts: ['Pleated Skirt', 'Pencil Skirt', 'A-Line Skirt'],
  hats: ['Fedora', 'Bucket Hat', 'Sun Hat'],
};

/** Styles per category, in proportion to a luxury e-shop's assortment. */
const STYLE_COUNTS: Record<Category, number> = {
  shoes: 22,
  bags: 16,
  dresses: 16,
  bikinis: 8,
  coats: 10,
  tops: 8,
  trousers: 7,
  skirts: 7,
  hats: 6,
};

const BRANDS = [
  'Maison Vermeil',
  'Atelier Noor',
  'Casa Lumen',
  'Studio Halden',
  'Rue Sainte',
  'Marlowe & Finch',
  'Kaito Mori',
  'Velluto',
  'Ostra',
  'North Quay',
];
const ADJECTIVES = [
  'Wild',
  'Velvet',
  'Riviera',
  'Nova',
  'Echo',
  'Luna',
  'Sierra',
  'Bolt',
  'Mira',
  'Opal',
  'Tango',
  'Atlas',
  'Coral',
  'Indigo',
  'Saffron',
  'Zephyr',
  'Juno',
  'Ember',
  'Iris',
  'Cleo',
];
const PATTERNS: Pattern[] = ['solid', 'stripes', 'dots', 'check', 'chevron', 'leopard', 'diagonal', 'grid'];
const MOTIFS: Motif[] = ['none', 'star', 'heart', 'bow', 'ring', 'chain', 'diamond', 'flower'];
const PRICE_RANGE: Record<Category, [number, number]> = {
  shoes: [350, 1200],
  bags: [600, 3500],
  dresses: [400, 2800],
  bikinis: [150, 450],
  coats: [900, 4200],
  tops: [180, 900],
  trousers: [300, 1100],
  skirts: [280, 1200],
  hats: [150, 650],
};

/** The catalogue's products, deterministic in `seed`. The first style is always the Wild Thing pump. */
export function syntheticProducts(seed = 1): SyntheticProduct[] {
  const rng = createRng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
  const colourNames = Object.keys(COLOURS);
  const styles: SyntheticStyle[] = [
    {
      style: 'SH001',
      category: 'shoes',
      name: 'Wild Thing Pump',
      brand: 'Maison Vermeil',
      price: 795,
      // kind 0 (pump), very high heel, pointed toe.
      shape: [0, 0.95, 0.9, 0.4, 0.5],
      pattern: 'solid',
      motif: 'bow',
      accent: '#f3e6c8',
    },
  ];
  const usedNames = new Set(['Wild Thing Pump']);
  const usedLooks = new Set(styles.map((s) => `${s.category}|${s.shape[0]}|${s.pattern}|${s.motif}`));
  for (const category of Object.keys(STYLE_COUNTS) as Category[]) {
    const code = CATEGORY_CODES[category];
    for (let i = styles.filter((s) => s.category === category).length; i < STYLE_COUNTS[category]; i++) {
      const kindIndex = i % KINDS[category].length;
      let name = '';
      do name = `${pick(ADJECTIVES)} ${KINDS[category][kindIndex]}`;
      while (usedNames.has(name));
      usedNames.add(name);
      // A look (kind, pattern, motif) is never repeated, so styles differ beyond their shape numbers.
      let pattern: Pattern;
      let motif: Motif;
      do {
        pattern = pick(PATTERNS);
        motif = pick(MOTIFS);
      } while (usedLooks.has(`${category}|${kindIndex}|${pattern}|${motif}`));
      usedLooks.add(`${category}|${kindIndex}|${pattern}|${motif}`);
      const [low, high] = PRICE_RANGE[category];
      styles.push({
        style: `${code}${String(i + 1).padStart(3, '0')}`,
        category,
        name,
        brand: pick(BRANDS),
        price: Math.round((low + rng() * (high - low)) / 5) * 5,
        shape: [kindIndex, rng(), rng(), rng(), rng()],
        pattern,
        motif,
        accent: COLOURS[pick(colourNames)]!,
      });
    }
  }

  const products: SyntheticProduct[] = [];
  for (const style of styles) {
    const colours =
      style.style === 'SH001'
        ? ['red', 'black', 'nude']
        : shuffled(colourNames, rng).slice(0, 2 + Math.floor(rng() * 3));
    for (const colour of colours) {
      const hex = COLOURS[colour]!;
      // The accent must stay visible on every colour variant.
      const accent = contrast(hex, style.accent) < 90 ? contrastingAccent(hex) : style.accent;
      products.push({
        ...style,
        accent,
        sku: `${style.style}-${colour.toUpperCase()}`,
        colour,
        hex,
        views: rng() < 0.35 ? ['main', 'back', 'alt1'] : ['main', 'back'],
      });
    }
  }
  return products;
}

/** The catalogue.json entry of a product (luma format, plus brand). */
export function feedEntry(product: SyntheticProduct) {
  return {
    sku: product.sku,
    style: product.style,
    colour: product.colour,
    images: product.views.map((view) => ({ file: `images/${imageFileName(product, view)}`, view })),
    name: product.name,
    category: product.category,
    brand: product.brand,
    price: product.price,
  };
}

export function imageFileName(product: SyntheticProduct, view: View): string {
  const base = product.sku.toLowerCase();
  return view === 'main' ? `${base}-0.jpg` : `${base}-0_${view}.jpg`;
}

export const IMAGE_WIDTH = 600;
export const IMAGE_HEIGHT = 750;

/** The studio shot of one view as SVG. main: front; back: mirrored, motif hidden; alt1: close-up. */
export function productSvg(product: SyntheticProduct, view: View): string {
  const id = product.sku.replace(/[^A-Za-z0-9]/g, '');
  const body = `<g fill="url(#fill-${id})" stroke="${shade(product.hex, -0.35)}" stroke-width="4" stroke-linejoin="round">${silhouette(product)}</g>`;
  const motif = view === 'back' ? '' : motifSvg(product);
  const transform =
    view === 'back'
      ? `translate(${IMAGE_WIDTH},0) scale(-1,1)`
      : view === 'alt1'
        ? // A close-up centred on the detail (the motif's place).
          `translate(${IMAGE_WIDTH / 2 - 1.8 * MOTIF_ANCHOR[product.category][0]},${IMAGE_HEIGHT / 2 - 1.8 * MOTIF_ANCHOR[product.category][1]}) scale(1.8)`
        : '';
  const studio = view === 'back' ? '#ecebe8' : '#f5f4f1';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${IMAGE_WIDTH}" height="${IMAGE_HEIGHT}" viewBox="0 0 ${IMAGE_WIDTH} ${IMAGE_HEIGHT}">
<defs>
<radialGradient id="studio-${id}" cx="50%" cy="40%" r="75%"><stop offset="0" stop-color="#ffffff"/><stop offset="1" stop-color="${studio}"/></radialGradient>
${patternDef(product, id)}
${surfaceDefs(id)}
</defs>
<rect width="100%" height="100%" fill="url(#studio-${id})"/>
<g transform="${transform}">
<ellipse cx="300" cy="690" rx="210" ry="18" fill="#000" opacity="0.10"/>
${body}
<g fill="url(#shade-${id})" stroke="none">${silhouette(product)}</g>
${motif}
</g>
</svg>`;
}

function patternDef(product: SyntheticProduct, id: string): string {
  const base = product.hex;
  const a = product.accent;
  // Bold enough to survive a phone photo scaled down to a 224-pixel model input.
  const size = 34 + Math.round(product.shape[3]! * 36);
  const inner: Record<Pattern, string> = {
    solid: '',
    stripes: `<rect width="${size}" height="${size / 3}" fill="${a}"/>`,
    dots: `<circle cx="${size / 2}" cy="${size / 2}" r="${size / 5}" fill="${a}"/>`,
    check: `<rect width="${size / 2}" height="${size / 2}" fill="${a}" opacity="0.8"/><rect x="${size / 2}" y="${size / 2}" width="${size / 2}" height="${size / 2}" fill="${a}" opacity="0.8"/>`,
    chevron: `<polyline points="0,${size * 0.7} ${size / 2},${size * 0.3} ${size},${size * 0.7}" fill="none" stroke="${a}" stroke-width="${size / 6}"/>`,
    leopard: `<ellipse cx="${size * 0.3}" cy="${size * 0.3}" rx="${size / 5}" ry="${size / 7}" fill="${a}"/><ellipse cx="${size * 0.75}" cy="${size * 0.72}" rx="${size / 7}" ry="${size / 5}" fill="${a}"/><circle cx="${size * 0.78}" cy="${size * 0.2}" r="${size / 12}" fill="${a}"/>`,
    diagonal: `<path d="M0,${size} L${size},0" stroke="${a}" stroke-width="${size / 5}"/>`,
    grid: `<path d="M0,0 H${size} M0,0 V${size}" stroke="${a}" stroke-width="${size / 8}"/>`,
  };
  return `<pattern id="fill-${id}" width="${size}" height="${size}" patternUnits="userSpaceOnUse"><rect width="${size}" height="${size}" fill="${base}"/>${inner[product.pattern]}</pattern>`;
}

/** Light from the top left: studio shots have shading, and ImageNet features need more than flat colour. */
function surfaceDefs(id: string): string {
  return `<linearGradient id="shade-${id}" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#ffffff" stop-opacity="0.28"/><stop offset="0.55" stop-color="#ffffff" stop-opacity="0"/><stop offset="1" stop-color="#000000" stop-opacity="0.3"/></linearGradient>`;
}

function motifSvg(product: SyntheticProduct): string {
  const [x, y] = MOTIF_ANCHOR[product.category];
  const r = (product.category === 'shoes' ? 26 : 40) + product.shape[4]! * 24;
  const fill = product.accent;
  const stroke = shade(product.accent, -0.4);
  const at = (inner: string) =>
    `<g transform="translate(${x},${y})" fill="${fill}" stroke="${stroke}" stroke-width="2">${inner}</g>`;
  switch (product.motif) {
    case 'none':
      return '';
    case 'star':
      return at(`<polygon points="${starPoints(r)}"/>`);
    case 'heart':
      return at(
        `<path d="M0,${r * 0.8} C${-r * 1.4},${-r * 0.2} ${-r * 0.6},${-r * 1.1} 0,${-r * 0.35} C${r * 0.6},${-r * 1.1} ${r * 1.4},${-r * 0.2} 0,${r * 0.8} Z"/>`,
      );
    case 'bow':
      return at(
        `<polygon points="0,0 ${-r},${-r * 0.6} ${-r},${r * 0.6}"/><polygon points="0,0 ${r},${-r * 0.6} ${r},${r * 0.6}"/><circle r="${r * 0.25}"/>`,
      );
    case 'ring':
      return at(`<circle r="${r * 0.8}" fill="none" stroke="${fill}" stroke-width="${r * 0.3}"/>`);
    case 'chain':
      return at(
        [-1.5, -0.5, 0.5, 1.5]
          .map(
            (k) =>
              `<ellipse cx="${k * r * 0.8}" rx="${r * 0.45}" ry="${r * 0.28}" fill="none" stroke="${fill}" stroke-width="6"/>`,
          )
          .join(''),
      );
    case 'diamond':
      return at(`<polygon points="0,${-r} ${r * 0.7},0 0,${r} ${-r * 0.7},0"/>`);
    case 'flower':
      return at(
        [0, 72, 144, 216, 288]
          .map(
            (deg) =>
              `<ellipse rx="${r * 0.3}" ry="${r * 0.6}" transform="rotate(${deg}) translate(0,${-r * 0.5})"/>`,
          )
          .join('') + `<circle r="${r * 0.25}" fill="${stroke}"/>`,
      );
  }
}

const MOTIF_ANCHOR: Record<Category, [number, number]> = {
  shoes: [230, 525],
  bags: [300, 430],
  dresses: [300, 250],
  bikinis: [300, 470],
  coats: [360, 300],
  tops: [300, 300],
  trousers: [300, 190],
  skirts: [300, 330],
  hats: [300, 360],
};

function starPoints(r: number): string {
  const points: string[] = [];
  for (let i = 0; i < 10; i++) {
    const radius = i % 2 === 0 ? r : r * 0.45;
    const angle = (Math.PI / 5) * i - Math.PI / 2;
    points.push(`${(Math.cos(angle) * radius).toFixed(1)},${(Math.sin(angle) * radius).toFixed(1)}`);
  }
  return points.join(' ');
}

/** The product's outline(s) in a 600×750 frame, parametrised by its style's shape numbers. */
function silhouette(product: SyntheticProduct): string {
  const [kind = 0, a = 0.5, b = 0.5, c = 0.5] = product.shape;
  switch (product.category) {
    case 'shoes':
      return shoe(kind, a, b, c);
    case 'bags':
      return bag(kind, a, b, c);
    case 'dresses':
      return dress(kind, a, b, c);
    case 'bikinis':
      return bikini(kind, a, b);
    case 'coats':
      return coat(kind, a, b);
    case 'tops':
      return top(kind, a, b);
    case 'trousers':
      return trousers(kind, a, b);
    case 'skirts':
      return skirt(kind, a, b);
    case 'hats':
      return hat(kind, a, b);
  }
}

function shoe(kind: number, heel: number, toe: number, vamp: number): string {
  const ground = 600;
  if (kind === 1) {
    // Sneaker: chunky, a white sole band, laces.
    const top = 380 - vamp * 60;
    return `<path d="M70,${ground - 20} Q60,${ground - 110} 170,${ground - 130} L300,${top} Q420,${top - 40} 500,${top + 10} Q540,${ground - 80} 530,${ground - 20} Z"/>
<rect x="60" y="${ground - 30}" width="480" height="40" rx="18" fill="#f7f7f5"/>
${[0, 1, 2, 3].map((i) => `<line x1="${250 + i * 35}" y1="${top + 30 + i * 6}" x2="${280 + i * 35}" y2="${top + 60 + i * 6}" stroke="#fafafa" stroke-width="7"/>`).join('')}`;
  }
  if (kind === 2) {
    // Ankle boot: a shaft rising from the heel.
    const shaft = 220 + vamp * 80;
    const heelH = 40 + heel * 60;
    return `<path d="M60,${ground - 10} Q60,${ground - 90} 200,${ground - 120} L300,${ground - 150} L330,${shaft} L500,${shaft} L510,${ground - heelH} L380,${ground - heelH + 10} Q250,${ground} 120,${ground} Z"/>
<polygon points="440,${ground - heelH} 505,${ground - heelH} 500,${ground} 450,${ground}"/>`;
  }
  if (kind === 3) {
    // Sandal: a sole and straps.
    const heelH = 30 + heel * 110;
    return `<path d="M60,${ground - 8} L380,${ground - 8} Q470,${ground - heelH - 10} 520,${ground - heelH} L520,${ground - heelH + 14} Q470,${ground - heelH + 6} 390,${ground + 8} L60,${ground + 8} Z"/>
<polygon points="480,${ground - heelH + 10} 515,${ground - heelH + 10} 505,${ground} 492,${ground}"/>
${[0, 1, 2].map((i) => `<path d="M${110 + i * 90},${ground - 8} Q${150 + i * 90},${ground - 120 + toe * 30} ${190 + i * 90},${ground - 8}" fill="none" stroke-width="16"/>`).join('')}`;
  }
  if (kind === 4) {
    // Loafer: low, rounded, with a bar.
    return `<path d="M60,${ground} Q50,${ground - 90} 180,${ground - 110} Q300,${ground - 120} 380,${ground - 150 + vamp * 30} Q470,${ground - 160} 520,${ground - 120} L530,${ground} Z"/>
<rect x="200" y="${ground - 115}" width="120" height="22" rx="8" fill="#d9c27a"/>`;
  }
  // Pump (0) and slingback (5): heel height and toe point from the style.
  const heelH = 40 + heel * 150;
  const toeX = 40 - toe * 30;
  const upper =
    kind === 5
      ? `<path d="M${toeX},${ground - 6} Q${toeX + 20},${ground - 70} 160,${ground - 90 + vamp * 20} Q250,${ground - 100} 330,${ground - heelH * 0.5 - 40} L360,${ground - heelH * 0.45} Z"/>
<path d="M350,${ground - heelH * 0.5 - 35} Q460,${ground - heelH - 60} 535,${ground - heelH - 10}" fill="none" stroke-width="12"/>`
      : `<path d="M${toeX},${ground - 6} Q${toeX + 20},${ground - 70} 160,${ground - 90 + vamp * 20} Q250,${ground - 100} 300,${ground - 70} Q420,${ground - heelH - 40} 530,${ground - heelH - 55} L540,${ground - heelH} Z"/>`;
  return `${upper}
<path d="M${toeX},${ground - 6} Q200,${ground + 4} 360,${ground - heelH * 0.45} L540,${ground - heelH} L520,${ground - heelH + 12} Q380,${ground - heelH * 0.3} 240,${ground + 6} Z" fill="#2a2a2a"/>
<polygon points="500,${ground - heelH + 4} 538,${ground - heelH + 4} ${526 - heel * 10},${ground} ${514 - heel * 6},${ground}" fill="#2a2a2a"/>`;
}

function bag(kind: number, width: number, height: number, handle: number): string {
  const w = 300 + width * 140;
  const h = 200 + height * 120;
  const x = 300 - w / 2;
  const y = 620 - h;
  if (kind === 1) {
    // Clutch: a flat envelope with a flap.
    const ch = h * 0.55;
    const cy = 560 - ch;
    return `<rect x="${x}" y="${cy}" width="${w}" height="${ch}" rx="14"/><path d="M${x},${cy} L300,${cy + ch * (0.4 + handle * 0.3)} L${x + w},${cy} Z"/>`;
  }
  if (kind === 2) {
    // Crossbody: small body, long strap.
    return `<path d="M${x + 40},${y + 40} Q300,${40 + handle * 60} ${x + w - 40},${y + 40}" fill="none" stroke-width="10"/>
<rect x="${x + 40}" y="${y + 40}" width="${w - 80}" height="${h - 40}" rx="24"/><rect x="${x + 40}" y="${y + 40}" width="${w - 80}" height="${(h - 40) * 0.45}" rx="20"/>`;
  }
  if (kind === 3) {
    // Backpack: tall, rounded top, front pocket, straps.
    return `<path d="M${x + 30},620 L${x + 30},${y - 20} Q300,${y - 140} ${x + w - 30},${y - 20} L${x + w - 30},620 Z"/>
<rect x="${x + 70}" y="${620 - h * 0.45}" width="${w - 140}" height="${h * 0.4}" rx="20"/>
<path d="M270,${y - 80} Q300,${y - 120} 330,${y - 80}" fill="none" stroke-width="10"/>`;
  }
  if (kind === 4) {
    // Bucket: cylinder with a drawstring.
    return `<path d="M${x + 20},${y} L${x + w - 20},${y} L${x + w - 50},620 L${x + 50},620 Z"/><ellipse cx="300" cy="${y}" rx="${w / 2 - 20}" ry="22"/>
<path d="M${x + 40},${y} Q300,${y - 160 - handle * 60} ${x + w - 40},${y}" fill="none" stroke-width="8"/>`;
  }
  // Tote: trapezoid with two handles.
  const handleH = 80 + handle * 90;
  return `<path d="M${x - 10},${y} L${x + w + 10},${y} L${x + w - 20},620 L${x + 20},620 Z"/>
<path d="M${x + w * 0.22},${y} Q${x + w * 0.32},${y - handleH} ${x + w * 0.42},${y}" fill="none" stroke-width="12"/>
<path d="M${x + w * 0.58},${y} Q${x + w * 0.68},${y - handleH} ${x + w * 0.78},${y}" fill="none" stroke-width="12"/>`;
}

function dress(kind: number, flare: number, length: number, neck: number): string {
  const hem = kind === 1 ? 420 + length * 60 : kind === 2 ? 660 : 520 + length * 90;
  const hemHalf = 110 + flare * 150 + (kind === 2 ? 40 : 0);
  const shoulder = kind === 4 ? 70 : 105;
  const neckDepth = 40 + neck * 80;
  const sleeves =
    kind === 3
      ? `<path d="M${300 - shoulder},130 L${300 - shoulder - 70},280 L${300 - shoulder - 30},295 L${300 - shoulder + 10},200 Z"/><path d="M${300 + shoulder},130 L${300 + shoulder + 70},280 L${300 + shoulder + 30},295 L${300 + shoulder - 10},200 Z"/>`
      : '';
  const wrap = kind === 3 ? `<path d="M${300 - 90},135 L${300 + 90},330" fill="none" stroke-width="5"/>` : '';
  return `${sleeves}<path d="M${300 - shoulder},120 L${300 - 35},110 Q300,${110 + neckDepth} ${300 + 35},110 L${300 + shoulder},120 L${300 + 85},300 L${300 + hemHalf},${hem} L${300 - hemHalf},${hem} L${300 - 85},300 Z"/>${wrap}
<rect x="215" y="290" width="170" height="16" fill="#00000022" stroke="none"/>`;
}

function bikini(kind: number, size: number, tie: number): string {
  const s = 70 + size * 40;
  const top =
    kind === 1
      ? `<rect x="${300 - s * 1.8}" y="230" width="${s * 3.6}" height="${s * 0.9}" rx="${s * 0.4}"/>`
      : kind === 2
        ? `<path d="M300,120 L${300 - s * 1.6},${240 + s} Q300,${260 + s * 0.9} ${300 + s * 1.6},${240 + s} Z"/>`
        : `<polygon points="${300 - s * 1.6},${330} ${300 - 15},${330} ${300 - s * 0.6},${330 - s * 1.3}"/><polygon points="${300 + 15},330 ${300 + s * 1.6},330 ${300 + s * 0.6},${330 - s * 1.3}"/>
<path d="M${300 - s * 0.6},${330 - s * 1.3} L300,140 L${300 + s * 0.6},${330 - s * 1.3}" fill="none" stroke-width="5"/>`;
  const bottomTop = 430;
  return `${top}<path d="M${300 - s * 1.7},${bottomTop} L${300 + s * 1.7},${bottomTop} Q${300 + s * 0.5},${bottomTop + 40} 300,${bottomTop + 110 + tie * 50} Q${300 - s * 0.5},${bottomTop + 40} ${300 - s * 1.7},${bottomTop} Z"/>
<line x1="${300 - s * 1.7}" y1="${bottomTop}" x2="${300 - s * 2.3}" y2="${bottomTop + 40}" stroke-width="6"/><line x1="${300 + s * 1.7}" y1="${bottomTop}" x2="${300 + s * 2.3}" y2="${bottomTop + 40}" stroke-width="6"/>`;
}

function coat(kind: number, length: number, width: number): string {
  const hem = kind === 2 || kind === 3 ? 430 + length * 50 : 560 + length * 110;
  const half = 120 + width * 50 + (kind === 2 ? 30 : 0);
  const quilting =
    kind === 2
      ? [0, 1, 2, 3, 4]
          .map(
            (i) =>
              `<line x1="${300 - half}" y1="${200 + i * 55}" x2="${300 + half}" y2="${200 + i * 55}" stroke-width="3"/>`,
          )
          .join('')
      : '';
  const belt =
    kind === 0 ? `<rect x="${300 - half}" y="330" width="${half * 2}" height="26" fill="#00000033"/>` : '';
  const zip =
    kind === 3 ? `<line x1="270" y1="120" x2="340" y2="${hem}" stroke="#c9c9c9" stroke-width="6"/>` : '';
  return `<path d="M${300 - half + 10},110 L${300 - half - 90},${hem - 60} L${300 - half - 40},${hem - 40} L${300 - half + 5},250 Z"/>
<path d="M${300 + half - 10},110 L${300 + half + 90},${hem - 60} L${300 + half + 40},${hem - 40} L${300 + half - 5},250 Z"/>
<path d="M${300 - half + 10},100 L260,95 L300,200 L340,95 L${300 + half - 10},100 L${300 + half},${hem} L${300 - half},${hem} Z"/>
<path d="M260,95 L245,230 L300,200 Z M340,95 L355,230 L300,200 Z" fill="#00000022"/>${quilting}${belt}${zip}
${kind === 1 ? [0, 1, 2].map((i) => `<circle cx="320" cy="${260 + i * 80}" r="9" fill="#2a2a2a"/>`).join('') : ''}`;
}

function top(kind: number, width: number, neck: number): string {
  const half = 120 + width * 40;
  const sleeve = kind === 2 ? 0 : kind === 0 ? 140 : 70;
  const neckDepth = 30 + neck * 60;
  const sleeves = sleeve
    ? `<path d="M${300 - half},170 L${300 - half - sleeve},${250 + sleeve * 0.6} L${300 - half - sleeve + 40},${280 + sleeve * 0.6} L${300 - half},260 Z"/><path d="M${300 + half},170 L${300 + half + sleeve},${250 + sleeve * 0.6} L${300 + half + sleeve - 40},${280 + sleeve * 0.6} L${300 + half},260 Z"/>`
    : '';
  return `${sleeves}<path d="M${300 - half},160 L255,150 Q300,${150 + neckDepth} 345,150 L${300 + half},160 L${300 + half},520 L${300 - half},520 Z"/>`;
}

function trousers(kind: number, width: number, length: number): string {
  const hem = 580 + length * 80;
  const legW = 70 + width * 60 + (kind === 0 ? 50 : 0);
  const pockets =
    kind === 2
      ? `<rect x="${300 - legW - 70}" y="330" width="70" height="80" rx="6" fill="#00000022"/><rect x="${300 + legW}" y="330" width="70" height="80" rx="6" fill="#00000022"/>`
      : '';
  return `<path d="M190,120 L410,120 L${300 + 110 + legW * 0.6},${hem} L${310 + 10},${hem} L300,300 L${290 - 10},${hem} L${300 - 110 - legW * 0.6},${hem} Z"/>
<rect x="190" y="110" width="220" height="30" fill="#00000022"/>${pockets}`;
}

function skirt(kind: number, flare: number, length: number): string {
  const hem = 430 + length * 180;
  const half = kind === 1 ? 120 : 150 + flare * 140;
  const pleats =
    kind === 0
      ? Array.from({ length: 7 }, (_, i) => {
          const t = (i + 1) / 8;
          return `<line x1="${230 + 140 * t}" y1="180" x2="${300 - half + 2 * half * t}" y2="${hem}" stroke-width="3"/>`;
        }).join('')
      : '';
  return `<path d="M220,160 L380,160 L${300 + half},${hem} L${300 - half},${hem} Z"/><rect x="220" y="150" width="160" height="30" fill="#00000022"/>${pleats}`;
}

function hat(kind: number, brim: number, crown: number): string {
  const brimHalf = kind === 2 ? 230 : 150 + brim * 60;
  const crownH = 120 + crown * 80;
  if (kind === 1) {
    return `<path d="M190,${470 - crownH} L410,${470 - crownH} L440,470 L160,470 Z"/><path d="M120,470 Q300,430 480,470 L500,520 Q300,480 100,520 Z"/>`;
  }
  return `<ellipse cx="300" cy="470" rx="${brimHalf}" ry="${35 + brim * 15}"/>
<path d="M200,470 Q195,${470 - crownH} 300,${470 - crownH - 10} Q405,${470 - crownH} 400,470 Z"/>
<rect x="200" y="430" width="200" height="26" fill="#00000044"/>`;
}

// ---------------------------------------------------------------- colour helpers

function rgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1, 7), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function contrast(a: string, b: string): number {
  const [r1, g1, b1] = rgb(a);
  const [r2, g2, b2] = rgb(b);
  return Math.sqrt((r1 - r2) ** 2 + (g1 - g2) ** 2 + (b1 - b2) ** 2);
}

function contrastingAccent(hex: string): string {
  const [r, g, b] = rgb(hex);
  return 0.299 * r + 0.587 * g + 0.114 * b > 140 ? '#1c1c1e' : '#f2efe8';
}

function shade(hex: string, amount: number): string {
  const channel = (v: number) => Math.max(0, Math.min(255, Math.round(v * (1 + amount))));
  return `#${rgb(hex)
    .map((v) => channel(v).toString(16).padStart(2, '0'))
    .join('')}`;
}

function shuffled<T>(items: readonly T[], rng: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

// ---------------------------------------------------------------- rendering (I/O)

export interface WriteCatalogueOptions {
  seed?: number;
  /** Only the first N products (tests); default all. */
  limit?: number;
  quality?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Renders the catalogue into `dir` (catalogue.json + images/). Returns the products written. */
export async function writeSyntheticCatalogue(
  dir: string,
  options: WriteCatalogueOptions = {},
): Promise<SyntheticProduct[]> {
  const { default: sharp } = await import('sharp');
  const products = syntheticProducts(options.seed ?? 1).slice(0, options.limit);
  await mkdir(join(dir, 'images'), { recursive: true });
  let done = 0;
  const queue = [...products];
  const worker = async () => {
    for (let product = queue.shift(); product; product = queue.shift()) {
      for (const view of product.views) {
        const jpeg = await sharp(Buffer.from(productSvg(product, view)))
          .jpeg({ quality: options.quality ?? 88 })
          .toBuffer();
        await writeFile(join(dir, 'images', imageFileName(product, view)), jpeg);
      }
      options.onProgress?.(++done, products.length);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  await writeFile(join(dir, 'catalogue.json'), `${JSON.stringify(products.map(feedEntry), null, 1)}\n`);
  return products;
}
