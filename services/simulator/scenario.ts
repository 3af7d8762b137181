/**
 * The Net Set traffic scenario: a PURE, seeded, deterministic generator of a community's uploads
 * and interactions over simulated days, with planted micro-trends, decoys that must not alert, an
 * inventory snapshot and the ground truth. No I/O, no clock, no Math.random: the same options give
 * byte-identical output, so detection benchmarks and tests can rely on it.
 *
 * ```ts
 * const scenario = generateScenario({ seed: 7, catalogue, start: '2025-06-02T00:00:00Z', days: 7 });
 * scenario.events;     // ScenarioEvent[] in event-time order: { at, kind: 'upload', upload } | { at, kind: 'interaction', interaction }
 * scenario.inventory;  // InventoryLevel per catalogue SKU (updatedAt = start)
 * scenario.truth;      // photos (postId, imageIndex → sku, view), trends (sku, onset, regions), decoys (sku, kind)
 * ```
 *
 * Model:
 * - Members live in world cities (weighted by size); each has an activity weight (heavy-tailed), and
 *   acts by the local time of their home city (quiet at night, peaks at lunch and in the evening).
 * - Uploads per city-hour are Poisson; the product in a photo follows a Zipf-like popularity over a
 *   seeded ranking of the catalogue, scaled by season: summer items (swimwear, shorts…) are popular
 *   where it is summer, winter items (coats, boots…) where it is winter, trans-seasonal items everywhere
 *   the same. So a bikini is steadily big in Sydney in June while coats are big in London: not trends.
 * - Every post attracts interactions (likes, saves, wishlist adds, shares, comments) from other members,
 *   delayed exponentially after the upload.
 * - A planted trend adds uploads of one SKU in a few countries: a base rate before the onset, then a
 *   logistic ramp to `growth` times that rate within `rampHours`, from many distinct members.
 * - Decoys: one member posting one product dozens of times (`repeat-poster`), the steady top seller
 *   (`best-seller`), a burst of likes on one post from fresh bot accounts (`bot-burst`), and a ring of
 *   fresh accounts re-uploading one existing photo within minutes and liking each other's reposts
 *   (`repost-ring`; drawn from its own random stream, so it changes nothing else in the scenario).
 *
 * Upload images carry a placeholder https URL (`https://photos.netset.invalid/<postId>/<i>.jpg`, which
 * never resolves); the I/O side (simulate.ts) renders the phone-like photo of `truth.photos[…]` and
 * replaces the image with its blob reference before sending.
 */
import type { Interaction, InteractionType, InventoryLevel, Upload } from '../../shared/contracts/events.ts';

// ---------------------------------------------------------------- public API (stable)

/** One sellable product as the scenario needs it (a subset of the catalogue feed entry). */
export interface ScenarioProduct {
  sku: string;
  name?: string | null;
  category?: string | null;
  colour?: string | null;
  style?: string | null;
  price?: number | null;
  /** Views available for rendering photos, e.g. ['main', 'back']; defaults to ['main']. */
  views?: readonly string[];
}

export type Season = 'summer' | 'winter' | 'all';

export interface TrendSpec {
  /** Defaults: the red "Wild Thing"-style shoe if the catalogue has one, else a mid-popularity SKU. */
  sku?: string;
  /** Hours after `start` when the rise begins. Default: 08:00 UTC of the day 60% into the scenario. */
  onsetHours?: number;
  /** ISO country codes where it rises. Default: two of the cities' countries, e.g. GB and IT. */
  regions?: readonly string[];
  /** Uploads per hour of this SKU across the regions before the onset (daily-rhythm average). Default 0.5. */
  baselinePerHour?: number;
  /** Peak rate over the base rate. Default 8. */
  growth?: number;
  /** Hours from onset to (nearly) the peak rate. Default 6. */
  rampHours?: number;
}

export interface ScenarioOptions {
  seed: number;
  catalogue: readonly ScenarioProduct[];
  /** First instant of the scenario (ISO-8601 or Date). Default 2025-06-02T00:00:00Z. */
  start?: string | Date;
  /** Simulated days. Default 7. */
  days?: number;
  /** Community size. Default 2,000. */
  members?: number;
  /** Organic uploads per day worldwide (before trends and decoys). Default 800. */
  uploadsPerDay?: number;
  /** Mean interactions per post. Default 6. */
  interactionsPerPost?: number;
  /** Zipf exponent of product popularity. Default 1.0. */
  zipfExponent?: number;
  /** Planted micro-trends. Default: one trend with the defaults of TrendSpec. Pass [] for none. */
  trends?: readonly TrendSpec[];
  decoys?: {
    /** One member posting the same product `count` times within `hours`. Default { count: 40, hours: 8 }; false = none. */
    repeatPoster?: { count?: number; hours?: number; atHours?: number } | false;
    /** Mark the most popular SKU as the steady best-seller (it is in the data anyway). Default true. */
    bestSeller?: boolean;
    /** `likes` likes on one post from `accounts` fresh bot accounts within `minutes`. Default { likes: 600, accounts: 600, minutes: 20 }. */
    botBurst?: { likes?: number; accounts?: number; minutes?: number; atHours?: number } | false;
    /**
     * `count` fresh accounts in one city re-upload the same photo of one ordinary post (the very same
     * image) within `minutes`, each liking `likesEach` of the others' reposts. Default { count: 40,
     * minutes: 30, likesEach: 5, atHours: 60 % into the scenario }; false = none.
     */
    repostRing?: { count?: number; minutes?: number; atHours?: number; likesEach?: number } | false;
  };
  /** Value of `source` on every event (the API key name the events would come in with). Default 'simulator'. */
  source?: string;
}

export interface Member {
  memberId: string;
  city: string;
  country: string;
  lat: number;
  lon: number;
  utcOffsetHours: number;
}

export type ScenarioEvent =
  | { at: number; kind: 'upload'; upload: Upload }
  | { at: number; kind: 'interaction'; interaction: Interaction };

export type PhotoReason = 'organic' | 'trend' | 'repeat-poster' | 'repost-ring';

/** What one uploaded image shows; `photoSeed` drives the phone-like distortions when rendered. */
export interface PhotoTruth {
  postId: string;
  uploadEventId: string;
  imageIndex: number;
  sku: string;
  view: string;
  photoSeed: number;
  reason: PhotoReason;
  at: string;
}

export interface TrendTruth {
  sku: string;
  /** When the rise begins. */
  onset: string;
  /** When the rate reaches ~95% of the peak. */
  peakBy: string;
  regions: string[];
  baselinePerHour: number;
  peakPerHour: number;
  growth: number;
  /** Uploads of this SKU the trend added (after the onset, in its regions). */
  plantedUploads: number;
}

export type DecoyKind = 'repeat-poster' | 'best-seller' | 'bot-burst' | 'repost-ring';

export interface DecoyTruth {
  kind: DecoyKind;
  sku: string;
  /** repeat-poster: the member; bot-burst: the liked post's author; repost-ring: the original post's author. */
  memberId?: string;
  /** bot-burst: the post that got the likes; repost-ring: the original post whose image the ring re-uploads. */
  postId?: string;
  from: string;
  /** repost-ring: the last repost is before `to`; the ring's likes follow within minutes. */
  to: string;
  /** Uploads (repeat-poster), likes (bot-burst), uploads over the scenario (best-seller) or reposts (repost-ring). */
  events: number;
}

export interface GroundTruth {
  seed: number;
  start: string;
  end: string;
  photos: PhotoTruth[];
  trends: TrendTruth[];
  decoys: DecoyTruth[];
  /** Season of each SKU as the generator understood its name/category. */
  seasons: Record<string, Season>;
}

export interface Scenario {
  members: Member[];
  /** In event-time order (ties broken by generation order). */
  events: ScenarioEvent[];
  inventory: InventoryLevel[];
  truth: GroundTruth;
  stats: { uploads: number; interactions: number; images: number };
}

// ---------------------------------------------------------------- world

export interface City {
  city: string;
  country: string;
  lat: number;
  lon: number;
  /** Standard-time offset (no daylight saving: the simulator's clock is simple on purpose). */
  utcOffsetHours: number;
  /** Relative size of the community there. */
  weight: number;
}

export const CITIES: readonly City[] = [
  { city: 'London', country: 'GB', lat: 51.507, lon: -0.128, utcOffsetHours: 0, weight: 10 },
  { city: 'Manchester', country: 'GB', lat: 53.48, lon: -2.242, utcOffsetHours: 0, weight: 3 },
  { city: 'Milan', country: 'IT', lat: 45.464, lon: 9.19, utcOffsetHours: 1, weight: 5 },
  { city: 'Rome', country: 'IT', lat: 41.903, lon: 12.496, utcOffsetHours: 1, weight: 3 },
  { city: 'Paris', country: 'FR', lat: 48.857, lon: 2.352, utcOffsetHours: 1, weight: 7 },
  { city: 'Berlin', country: 'DE', lat: 52.52, lon: 13.405, utcOffsetHours: 1, weight: 4 },
  { city: 'Munich', country: 'DE', lat: 48.135, lon: 11.582, utcOffsetHours: 1, weight: 2 },
  { city: 'Madrid', country: 'ES', lat: 40.417, lon: -3.704, utcOffsetHours: 1, weight: 3 },
  { city: 'Amsterdam', country: 'NL', lat: 52.368, lon: 4.904, utcOffsetHours: 1, weight: 2 },
  { city: 'Stockholm', country: 'SE', lat: 59.329, lon: 18.069, utcOffsetHours: 1, weight: 2 },
  { city: 'New York', country: 'US', lat: 40.713, lon: -74.006, utcOffsetHours: -5, weight: 9 },
  { city: 'Los Angeles', country: 'US', lat: 34.052, lon: -118.244, utcOffsetHours: -8, weight: 5 },
  { city: 'Miami', country: 'US', lat: 25.762, lon: -80.192, utcOffsetHours: -5, weight: 2 },
  { city: 'Toronto', country: 'CA', lat: 43.653, lon: -79.383, utcOffsetHours: -5, weight: 2 },
  { city: 'Mexico City', country: 'MX', lat: 19.433, lon: -99.133, utcOffsetHours: -6, weight: 2 },
  { city: 'São Paulo', country: 'BR', lat: -23.551, lon: -46.633, utcOffsetHours: -3, weight: 3 },
  { city: 'Buenos Aires', country: 'AR', lat: -34.604, lon: -58.382, utcOffsetHours: -3, weight: 1 },
  { city: 'Dubai', country: 'AE', lat: 25.205, lon: 55.271, utcOffsetHours: 4, weight: 3 },
  { city: 'Riyadh', country: 'SA', lat: 24.714, lon: 46.675, utcOffsetHours: 3, weight: 2 },
  { city: 'Mumbai', country: 'IN', lat: 19.076, lon: 72.878, utcOffsetHours: 5.5, weight: 2 },
  { city: 'Singapore', country: 'SG', lat: 1.352, lon: 103.82, utcOffsetHours: 8, weight: 2 },
  { city: 'Hong Kong', country: 'HK', lat: 22.319, lon: 114.169, utcOffsetHours: 8, weight: 3 },
  { city: 'Shanghai', country: 'CN', lat: 31.23, lon: 121.474, utcOffsetHours: 8, weight: 3 },
  { city: 'Seoul', country: 'KR', lat: 37.567, lon: 126.978, utcOffsetHours: 9, weight: 3 },
  { city: 'Tokyo', country: 'JP', lat: 35.676, lon: 139.65, utcOffsetHours: 9, weight: 4 },
  { city: 'Sydney', country: 'AU', lat: -33.869, lon: 151.209, utcOffsetHours: 10, weight: 3 },
  { city: 'Melbourne', country: 'AU', lat: -37.814, lon: 144.963, utcOffsetHours: 10, weight: 2 },
  { city: 'Johannesburg', country: 'ZA', lat: -26.204, lon: 28.047, utcOffsetHours: 2, weight: 1 },
];

/** Relative activity by local hour (0–23), normalised to mean 1 below. */
const HOURLY_RHYTHM_RAW = [
  0.25, 0.12, 0.06, 0.04, 0.04, 0.08, 0.25, 0.6, 0.9, 1.0, 1.05, 1.15, 1.45, 1.35, 1.05, 1.0, 1.05, 1.2, 1.45,
  1.7, 1.95, 1.95, 1.5, 0.8,
];
const RHYTHM_MEAN = HOURLY_RHYTHM_RAW.reduce((a, b) => a + b, 0) / 24;
export const HOURLY_RHYTHM: readonly number[] = HOURLY_RHYTHM_RAW.map((v) => v / RHYTHM_MEAN);

export function localHour(epochMs: number, utcOffsetHours: number): number {
  const hours = epochMs / 3_600_000 + utcOffsetHours;
  return ((Math.floor(hours) % 24) + 24) % 24;
}

const SUMMER_WORDS = /\b(bikini|swim\w*|shorts?|tank|tee|t-shirt|sandals?|bra|sun\w*|linen|espadrilles?)\b/i;
const WINTER_WORDS = /\b(coats?|jackets?|hoodies?|sweat\w*|parkas?|boots?|knit\w*|cardigans?|puffer|wool)\b/i;

/** Summer, winter or trans-seasonal, from the product's name and category. */
export function seasonOf(product: ScenarioProduct): Season {
  const text = `${product.name ?? ''} ${product.category ?? ''}`;
  if (SUMMER_WORDS.test(text)) return 'summer';
  if (WINTER_WORDS.test(text)) return 'winter';
  return 'all';
}

/** Popularity multiplier of a season's items in a hemisphere in a month (0 = January). */
export function seasonalMultiplier(season: Season, southern: boolean, month: number): number {
  if (season === 'all') return 1;
  const northSummer = month >= 4 && month <= 8;
  const northWinter = month >= 10 || month <= 2;
  const summerHere = southern ? northWinter : northSummer;
  const winterHere = southern ? northSummer : northWinter;
  const inSeason = season === 'summer' ? summerHere : winterHere;
  const offSeason = season === 'summer' ? winterHere : summerHere;
  return inSeason ? 1.8 : offSeason ? 0.35 : 1;
}

// ---------------------------------------------------------------- randomness

/** sfc32 seeded through splitmix32: fast, good enough statistically, and stable across platforms. */
export function createRng(seed: number): () => number {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  return () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
}

export function poisson(rng: () => number, lambda: number): number {
  if (lambda <= 0) return 0;
  if (lambda > 40) {
    // Normal approximation; exact enough for rates this large.
    const u = 1 - rng();
    const v = rng();
    const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * normal));
  }
  const limit = Math.exp(-lambda);
  let k = 0;
  let p = rng();
  while (p > limit) {
    k++;
    p *= rng();
  }
  return k;
}

const exponential = (rng: () => number, mean: number) => -Math.log(1 - rng()) * mean;

/** Cumulative weights for O(log n) sampling. */
class WeightedPicker<T> {
  private readonly cumulative: number[] = [];
  readonly total: number;
  constructor(
    readonly items: readonly T[],
    weight: (item: T) => number,
  ) {
    let sum = 0;
    for (const item of items) {
      sum += Math.max(0, weight(item));
      this.cumulative.push(sum);
    }
    this.total = sum;
  }
  pick(rng: () => number): T {
    const target = rng() * this.total;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulative[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    return this.items[lo]!;
  }
}

// ---------------------------------------------------------------- generation

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const INTERACTION_MIX: ReadonlyArray<[InteractionType, number]> = [
  ['like', 0.7],
  ['save', 0.1],
  ['wishlist', 0.08],
  ['share', 0.05],
  ['comment', 0.07],
];
const COMMENTS = ['love this', 'where is it from?', 'obsessed', 'need these', 'so chic', 'the colour!'];

/** Mixed into the seed of the repost ring's own random stream (any constant would do). */
const REPOST_RING_STREAM = 0x52e9057f;

const RED = /\bred\b/i;
const SHOE = /\b(shoes?|heels?|pumps?|sneakers?|trainers?|boots?|sandals?)\b/i;

function isRedShoe(product: ScenarioProduct): boolean {
  const text = `${product.name ?? ''} ${product.category ?? ''}`;
  return (RED.test(product.colour ?? '') || RED.test(product.name ?? '')) && SHOE.test(text);
}

interface Resolved {
  seed: number;
  startMs: number;
  days: number;
  members: number;
  uploadsPerDay: number;
  interactionsPerPost: number;
  zipfExponent: number;
  source: string;
}

interface Post {
  postId: string;
  memberId: string;
  at: number;
  sku: string;
  appeal: number;
}

/** Generates the whole scenario. Pure and deterministic in `options`. */
export function generateScenario(options: ScenarioOptions): Scenario {
  if (options.catalogue.length < 4) throw new Error('a scenario needs a catalogue of at least 4 products');
  const skus = new Set(options.catalogue.map((p) => p.sku));
  if (skus.size !== options.catalogue.length) throw new Error('catalogue SKUs must be unique');
  const o: Resolved = {
    seed: options.seed >>> 0,
    startMs: new Date(options.start ?? '2025-06-02T00:00:00Z').getTime(),
    days: options.days ?? 7,
    members: options.members ?? 2_000,
    uploadsPerDay: options.uploadsPerDay ?? 800,
    interactionsPerPost: options.interactionsPerPost ?? 6,
    zipfExponent: options.zipfExponent ?? 1.0,
    source: options.source ?? 'simulator',
  };
  if (!Number.isFinite(o.startMs)) throw new Error(`start is not a valid instant: ${String(options.start)}`);
  if (!(o.days > 0)) throw new Error('days must be positive');
  if (!Number.isInteger(o.members) || o.members < 1)
    throw new Error('members must be a whole number of at least 1');
  for (const [name, value] of [
    ['uploadsPerDay', o.uploadsPerDay],
    ['interactionsPerPost', o.interactionsPerPost],
    ['zipfExponent', o.zipfExponent],
  ] as const) {
    if (!(Number.isFinite(value) && value >= 0)) throw new Error(`${name} must be a number of at least 0`);
  }
  const endMs = o.startMs + o.days * 24 * HOUR_MS;
  const hours = Math.ceil(o.days * 24);
  const rng = createRng(o.seed);
  const iso = (ms: number) => new Date(ms).toISOString();

  // Members: cities by weight, heavy-tailed activity.
  const cityPicker = new WeightedPicker(CITIES, (c) => c.weight);
  const members: Member[] = [];
  const activity: number[] = [];
  const membersByCity = new Map<string, number[]>();
  for (let i = 0; i < o.members; i++) {
    const city = cityPicker.pick(rng);
    members.push({
      memberId: `m-${o.seed}-${i}`,
      city: city.city,
      country: city.country,
      lat: round(city.lat + (rng() - 0.5) * 0.1, 4),
      lon: round(city.lon + (rng() - 0.5) * 0.1, 4),
      utcOffsetHours: city.utcOffsetHours,
    });
    activity.push(1 / (1 - rng() * 0.97) ** 0.8);
    const list = membersByCity.get(city.city) ?? [];
    list.push(i);
    membersByCity.set(city.city, list);
  }
  const cityMemberPickers = new Map(
    [...membersByCity].map(([city, ids]) => [city, new WeightedPicker(ids, (i) => activity[i]!)]),
  );
  const anyMember = new WeightedPicker(
    members.map((_, i) => i),
    (i) => activity[i]!,
  );

  // Products: seeded popularity ranking, Zipf weights, season per hemisphere.
  const catalogue = [...options.catalogue];
  const ranking = shuffle(
    catalogue.map((p) => p.sku),
    rng,
  );
  const rankOf = new Map(ranking.map((sku, rank) => [sku, rank]));
  const bySku = new Map(catalogue.map((p) => [p.sku, p]));
  const seasons: Record<string, Season> = Object.fromEntries(catalogue.map((p) => [p.sku, seasonOf(p)]));
  const zipf = (sku: string) => 1 / (rankOf.get(sku)! + 1) ** o.zipfExponent;

  // Trends and decoys claim distinct SKUs, chosen before the organic traffic.
  const claimed = new Set<string>();
  const bestSellerSku = ranking[0]!;
  claimed.add(bestSellerSku);
  const trendSpecs = (options.trends ?? [{}]).map((spec, index) => {
    const sku = spec.sku ?? defaultTrendSku(catalogue, ranking, claimed, rng, index);
    if (!bySku.has(sku)) throw new Error(`trend SKU ${sku} is not in the catalogue`);
    if (claimed.has(sku)) throw new Error(`SKU ${sku} is used by more than one trend or decoy`);
    claimed.add(sku);
    // Default onset: 08:00 UTC on the day 60% into the scenario (morning in Europe, where the default
    // regions are), whatever the hour the scenario starts at; 60% into a scenario shorter than 2 days.
    const onsetHours =
      spec.onsetHours ??
      (o.days >= 2
        ? (Math.floor(o.startMs / DAY_MS + o.days * 0.6) * DAY_MS + 8 * HOUR_MS - o.startMs) / HOUR_MS
        : o.days * 24 * 0.6);
    const regions = [...(spec.regions ?? defaultRegions(index))];
    const baselinePerHour = spec.baselinePerHour ?? 0.5;
    const growth = spec.growth ?? 8;
    const rampHours = spec.rampHours ?? 6;
    return { sku, onsetMs: o.startMs + onsetHours * HOUR_MS, regions, baselinePerHour, growth, rampHours };
  });
  // Organic popularity excludes the trend SKUs: their whole upload stream is the planted one.
  const organic = (month: number, southern: boolean) =>
    new WeightedPicker(
      catalogue.filter((p) => !trendSpecs.some((t) => t.sku === p.sku)),
      (p) => zipf(p.sku) * seasonalMultiplier(seasons[p.sku]!, southern, month),
    );
  const pickers = new Map<string, WeightedPicker<ScenarioProduct>>();
  const productPicker = (month: number, southern: boolean) => {
    const key = `${month}|${southern}`;
    let picker = pickers.get(key);
    if (!picker) {
      picker = organic(month, southern);
      pickers.set(key, picker);
    }
    return picker;
  };

  const events: Array<ScenarioEvent & { order: number }> = [];
  const photos: PhotoTruth[] = [];
  const posts: Post[] = [];
  let uploadSeq = 0;
  let interactionSeq = 0;
  let order = 0;

  const addUpload = (memberIndex: number, at: number, sku: string, reason: PhotoReason, appeal: number) => {
    const member = members[memberIndex]!;
    const product = bySku.get(sku)!;
    const n = uploadSeq++;
    const postId = `p-${o.seed}-${n}`;
    const eventId = `u-${o.seed}-${n}`;
    const views = product.views && product.views.length > 0 ? product.views : ['main'];
    const imageCount = rng() < 0.15 && views.length > 1 ? 2 : 1;
    const images: Upload['images'] = [];
    for (let i = 0; i < imageCount; i++) {
      const view =
        i === 0 ? (rng() < 0.75 ? views[0]! : views[Math.floor(rng() * views.length)]!) : views[1]!;
      images.push({ url: `https://photos.netset.invalid/${postId}/${i}.jpg`, contentType: 'image/jpeg' });
      photos.push({
        postId,
        uploadEventId: eventId,
        imageIndex: i,
        sku,
        view,
        photoSeed: Math.floor(rng() * 2 ** 31),
        reason,
        at: iso(at),
      });
    }
    const upload: Upload = {
      eventId,
      postId,
      memberId: member.memberId,
      images,
      caption: captionFor(product, rng),
      hashtags: hashtagsFor(product, rng),
      location: { country: member.country, city: member.city, lat: member.lat, lon: member.lon },
      clientTimestamp: iso(at),
      receivedAt: iso(at + 500 + Math.floor(rng() * 2500)),
      source: o.source,
    };
    events.push({ at, kind: 'upload', upload, order: order++ });
    posts.push({ postId, memberId: member.memberId, at, sku, appeal });
    return postId;
  };

  const addInteraction = (
    post: Post,
    memberId: string,
    country: string | undefined,
    at: number,
    type: InteractionType,
    random: () => number = rng,
  ) => {
    const n = interactionSeq++;
    const interaction: Interaction = {
      eventId: `i-${o.seed}-${n}`,
      type,
      postId: post.postId,
      memberId,
      timestamp: iso(at),
      ...(type === 'comment' ? { comment: COMMENTS[Math.floor(random() * COMMENTS.length)]! } : {}),
      ...(country ? { country } : {}),
      receivedAt: iso(at + 200 + Math.floor(random() * 1500)),
      source: o.source,
    };
    events.push({ at, kind: 'interaction', interaction, order: order++ });
  };

  // Organic uploads, hour by hour and city by city.
  const totalCityWeight = CITIES.reduce((sum, c) => sum + c.weight, 0);
  for (let h = 0; h < hours; h++) {
    const hourStart = o.startMs + h * HOUR_MS;
    const month = new Date(hourStart).getUTCMonth();
    for (const city of CITIES) {
      const picker = cityMemberPickers.get(city.city);
      if (!picker) continue;
      const rhythm = HOURLY_RHYTHM[localHour(hourStart, city.utcOffsetHours)]!;
      const lambda = (o.uploadsPerDay / 24) * (city.weight / totalCityWeight) * rhythm;
      const count = poisson(rng, lambda);
      for (let k = 0; k < count; k++) {
        const at = hourStart + Math.floor(rng() * HOUR_MS);
        if (at >= endMs) continue;
        const product = productPicker(month, city.lat < 0).pick(rng);
        addUpload(picker.pick(rng), at, product.sku, 'organic', 1);
      }
    }
  }

  // Planted trends: base rate in their regions, then a logistic ramp to `growth` × base.
  const trends: TrendTruth[] = [];
  for (const spec of trendSpecs) {
    const regionCities = CITIES.filter(
      (c) => spec.regions.includes(c.country) && cityMemberPickers.has(c.city),
    );
    if (regionCities.length === 0) throw new Error(`no members live in the trend regions ${spec.regions}`);
    const regionWeight = regionCities.reduce((sum, c) => sum + c.weight, 0);
    // Ramp: logistic centred at half the ramp, ≈0.05 at the onset, ≈0.95 at onset + rampHours.
    const slope = (2 * Math.log(19)) / spec.rampHours;
    const level = (ms: number) =>
      ms < spec.onsetMs
        ? 0
        : 1 / (1 + Math.exp(-slope * ((ms - spec.onsetMs) / HOUR_MS - spec.rampHours / 2)));
    let planted = 0;
    for (let h = 0; h < hours; h++) {
      const hourStart = o.startMs + h * HOUR_MS;
      const mid = hourStart + HOUR_MS / 2;
      const multiplier = 1 + (spec.growth - 1) * level(mid);
      for (const city of regionCities) {
        const rhythm = HOURLY_RHYTHM[localHour(hourStart, city.utcOffsetHours)]!;
        const lambda = spec.baselinePerHour * (city.weight / regionWeight) * rhythm * multiplier;
        const count = poisson(rng, lambda);
        for (let k = 0; k < count; k++) {
          const at = hourStart + Math.floor(rng() * HOUR_MS);
          if (at >= endMs) continue;
          addUpload(cityMemberPickers.get(city.city)!.pick(rng), at, spec.sku, 'trend', 1.5);
          if (at >= spec.onsetMs) planted++;
        }
      }
    }
    trends.push({
      sku: spec.sku,
      onset: iso(spec.onsetMs),
      peakBy: iso(spec.onsetMs + spec.rampHours * HOUR_MS),
      regions: spec.regions,
      baselinePerHour: spec.baselinePerHour,
      peakPerHour: spec.baselinePerHour * spec.growth,
      growth: spec.growth,
      plantedUploads: planted,
    });
  }

  // Decoys.
  const decoys: DecoyTruth[] = [];
  const decoyOptions = options.decoys ?? {};
  if (decoyOptions.repeatPoster !== false) {
    const { count = 40, hours = 8, atHours = o.days * 24 * 0.4 } = decoyOptions.repeatPoster ?? {};
    const sku = pickUnclaimed(ranking, claimed, Math.floor(ranking.length * 0.3), rng);
    claimed.add(sku);
    const memberIndex = Math.floor(rng() * members.length);
    const from = o.startMs + atHours * HOUR_MS;
    if (from >= endMs) throw new Error('the repeat-poster decoy starts after the end of the scenario');
    // A short scenario squeezes the posting spree in rather than letting it run past the end.
    const span = Math.min(hours, (endMs - from) / HOUR_MS);
    const times = Array.from({ length: count }, () => from + Math.floor(rng() * span * HOUR_MS)).sort(
      (a, b) => a - b,
    );
    for (const at of times) addUpload(memberIndex, at, sku, 'repeat-poster', 0.3);
    decoys.push({
      kind: 'repeat-poster',
      sku,
      memberId: members[memberIndex]!.memberId,
      from: iso(from),
      to: iso(from + span * HOUR_MS),
      events: count,
    });
  }

  // Interactions on every post so far (organic, trend, repeat-poster).
  const interactionTypes = new WeightedPicker(INTERACTION_MIX, ([, w]) => w);
  for (const post of posts) {
    const count = poisson(rng, o.interactionsPerPost * post.appeal);
    for (let k = 0; k < count; k++) {
      const at = post.at + 30_000 + Math.floor(exponential(rng, 3 * HOUR_MS));
      if (at >= endMs) continue;
      const member = members[anyMember.pick(rng)]!;
      if (member.memberId === post.memberId) continue;
      addInteraction(post, member.memberId, member.country, at, interactionTypes.pick(rng)[0]);
    }
  }

  if (decoyOptions.bestSeller !== false) {
    const uploads = posts.filter((p) => p.sku === bestSellerSku).length;
    decoys.push({
      kind: 'best-seller',
      sku: bestSellerSku,
      from: iso(o.startMs),
      to: iso(endMs),
      events: uploads,
    });
  }

  if (decoyOptions.botBurst !== false) {
    const {
      likes = 600,
      accounts = 600,
      minutes = 20,
      atHours = o.days * 24 * 0.5,
    } = decoyOptions.botBurst ?? {};
    const from = o.startMs + atHours * HOUR_MS;
    // An ordinary organic post shortly before the burst, of a SKU no trend or decoy uses.
    const candidates = posts.filter(
      (p) => p.at < from && p.at > from - 24 * HOUR_MS && !claimed.has(p.sku) && p.appeal === 1,
    );
    const target =
      candidates[Math.floor(rng() * candidates.length)] ?? posts.find((p) => !claimed.has(p.sku));
    if (!target) throw new Error('no post to aim the bot burst at');
    claimed.add(target.sku);
    const botCountry = CITIES[Math.floor(rng() * CITIES.length)]!.country;
    for (let k = 0; k < likes; k++) {
      const at = from + Math.floor(rng() * minutes * 60_000);
      if (at >= endMs) continue;
      addInteraction(target, `bot-${o.seed}-${k % accounts}`, botCountry, at, 'like');
    }
    decoys.push({
      kind: 'bot-burst',
      sku: target.sku,
      memberId: target.memberId,
      postId: target.postId,
      from: iso(from),
      to: iso(from + minutes * 60_000),
      events: likes,
    });
  }

  if (decoyOptions.repostRing !== false) {
    // Its own random stream, and last of all: with or without the ring, every other member, event,
    // photo and inventory row of the scenario is the same (the main stream draws exactly as before).
    const random = createRng((o.seed ^ REPOST_RING_STREAM) >>> 0);
    const {
      count = 40,
      minutes = 30,
      atHours = o.days * 24 * 0.6,
      likesEach = 5,
    } = decoyOptions.repostRing ?? {};
    if (!Number.isInteger(count) || count < 1)
      throw new Error('repostRing.count must be a whole number of at least 1');
    if (!Number.isInteger(likesEach) || likesEach < 0)
      throw new Error('repostRing.likesEach must be a whole number of at least 0');
    if (!(minutes > 0)) throw new Error('repostRing.minutes must be positive');
    const from = o.startMs + atHours * HOUR_MS;
    if (!(from >= o.startMs && from < endMs))
      throw new Error('the repost-ring decoy starts outside the scenario');
    const to = Math.min(from + minutes * 60_000, endMs);
    // An ordinary organic post of the day before, of a SKU no trend or decoy uses: its first image
    // is what the ring re-uploads, byte for byte (same URL here, same photo seed when rendered).
    const eligible = (p: Post) => p.at < from && p.appeal === 1 && !claimed.has(p.sku);
    const candidates = posts.filter((p) => eligible(p) && p.at > from - 24 * HOUR_MS);
    const original = candidates[Math.floor(random() * candidates.length)] ?? posts.findLast(eligible);
    if (!original) throw new Error('no ordinary post before the repost ring for it to re-upload');
    claimed.add(original.sku);
    const originalUpload = events.find(
      (e): e is ScenarioEvent & { kind: 'upload'; order: number } =>
        e.kind === 'upload' && e.upload.postId === original.postId,
    )!.upload;
    const originalPhoto = photos.find((p) => p.postId === original.postId && p.imageIndex === 0)!;
    const city = CITIES[Math.floor(random() * CITIES.length)]!;
    const ring: Array<{ member: Member; post: Post }> = [];
    const times = Array.from({ length: count }, () => from + Math.floor(random() * (to - from))).sort(
      (a, b) => a - b,
    );
    for (let k = 0; k < count; k++) {
      const member: Member = {
        memberId: `ring-${o.seed}-${k}`,
        city: city.city,
        country: city.country,
        lat: round(city.lat + (random() - 0.5) * 0.1, 4),
        lon: round(city.lon + (random() - 0.5) * 0.1, 4),
        utcOffsetHours: city.utcOffsetHours,
      };
      members.push(member);
      const at = times[k]!;
      const n = uploadSeq++;
      const postId = `p-${o.seed}-${n}`;
      const eventId = `u-${o.seed}-${n}`;
      photos.push({
        postId,
        uploadEventId: eventId,
        imageIndex: 0,
        sku: original.sku,
        view: originalPhoto.view,
        photoSeed: originalPhoto.photoSeed,
        reason: 'repost-ring',
        at: iso(at),
      });
      const upload: Upload = {
        eventId,
        postId,
        memberId: member.memberId,
        images: [{ ...originalUpload.images[0]! }],
        caption: originalUpload.caption,
        hashtags: [...(originalUpload.hashtags ?? [])],
        location: { country: member.country, city: member.city, lat: member.lat, lon: member.lon },
        clientTimestamp: iso(at),
        receivedAt: iso(at + 500 + Math.floor(random() * 2500)),
        source: o.source,
      };
      events.push({ at, kind: 'upload', upload, order: order++ });
      ring.push({ member, post: { postId, memberId: member.memberId, at, sku: original.sku, appeal: 0 } });
    }
    // Each account likes `likesEach` of the other reposts, soon after both are up.
    const perAccount = Math.min(likesEach, count - 1);
    for (let k = 0; k < count; k++) {
      const others = ring.filter((_, j) => j !== k);
      for (let l = 0; l < perAccount; l++) {
        const pick = l + Math.floor(random() * (others.length - l));
        [others[l], others[pick]] = [others[pick]!, others[l]!];
        const target = others[l]!;
        const earliest = Math.max(ring[k]!.post.at, target.post.at) + 30_000;
        const at = earliest + Math.floor(random() * Math.max(10 * 60_000, to - earliest));
        if (at >= endMs) continue;
        addInteraction(target.post, ring[k]!.member.memberId, city.country, at, 'like', random);
      }
    }
    decoys.push({
      kind: 'repost-ring',
      sku: original.sku,
      memberId: original.memberId,
      postId: original.postId,
      from: iso(from),
      to: iso(to),
      events: count,
    });
  }

  events.sort((a, b) => a.at - b.at || a.order - b.order);
  photos.sort(
    (a, b) => a.at.localeCompare(b.at) || a.postId.localeCompare(b.postId) || a.imageIndex - b.imageIndex,
  );

  const organicUploads = new Map<string, number>();
  for (const post of posts) {
    if (post.appeal !== 0.3) organicUploads.set(post.sku, (organicUploads.get(post.sku) ?? 0) + 1);
  }
  const inventory = catalogue.map((product) =>
    inventoryFor(
      product,
      organicUploads.get(product.sku) ?? 0,
      o,
      trendSpecs.some((t) => t.sku === product.sku),
      rng,
    ),
  );

  return {
    members,
    events: events.map(({ order: _order, ...event }) => event as ScenarioEvent),
    inventory,
    truth: { seed: o.seed, start: iso(o.startMs), end: iso(endMs), photos, trends, decoys, seasons },
    stats: { uploads: uploadSeq, interactions: interactionSeq, images: photos.length },
  };
}

// ---------------------------------------------------------------- helpers

function defaultTrendSku(
  catalogue: readonly ScenarioProduct[],
  ranking: readonly string[],
  claimed: ReadonlySet<string>,
  rng: () => number,
  index: number,
): string {
  if (index === 0) {
    const red = catalogue.find((p) => isRedShoe(p) && !claimed.has(p.sku));
    if (red) return red.sku;
  }
  return pickUnclaimed(ranking, claimed, Math.floor(ranking.length * 0.4), rng);
}

function pickUnclaimed(
  ranking: readonly string[],
  claimed: ReadonlySet<string>,
  around: number,
  rng: () => number,
): string {
  const span = Math.max(1, Math.floor(ranking.length * 0.2));
  for (let attempt = 0; attempt < 1000; attempt++) {
    const rank = Math.min(ranking.length - 1, around + Math.floor(rng() * span));
    const sku = ranking[rank]!;
    if (!claimed.has(sku)) return sku;
  }
  const free = ranking.find((sku) => !claimed.has(sku));
  if (!free) throw new Error('catalogue too small for the planted trends and decoys');
  return free;
}

const DEFAULT_TREND_REGIONS: ReadonlyArray<readonly string[]> = [
  ['GB', 'IT'],
  ['US', 'CA'],
  ['JP', 'KR'],
  ['FR', 'DE'],
];
const defaultRegions = (index: number) => DEFAULT_TREND_REGIONS[index % DEFAULT_TREND_REGIONS.length]!;

function shuffle<T>(items: T[], rng: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

const CAPTIONS = ['new in!', 'obsessed with these', 'weekend look', 'finally mine', 'outfit of the day', ''];

function captionFor(product: ScenarioProduct, rng: () => number): string {
  const line = CAPTIONS[Math.floor(rng() * CAPTIONS.length)]!;
  return product.name && rng() < 0.5 ? `${line} ${product.name}`.trim() : line;
}

function hashtagsFor(product: ScenarioProduct, rng: () => number): string[] {
  const tags = ['ootd'];
  const category = (product.category ?? '').toLowerCase().replace(/[^\p{L}\p{N}_]+/gu, '');
  if (category && rng() < 0.6) tags.push(category.slice(0, 100));
  if (rng() < 0.3) tags.push('netset');
  return tags;
}

function inventoryFor(
  product: ScenarioProduct,
  uploads: number,
  o: Resolved,
  isTrend: boolean,
  rng: () => number,
): InventoryLevel {
  // Sales follow the upload share (the repeat poster buys nothing); the ERP has not seen the trend yet.
  const dailySales = round(Math.max(0.2, (uploads / o.days) * 0.8 * (isTrend ? 0.3 : 1)), 2);
  const coverDays = isTrend ? 10 + rng() * 6 : 20 + rng() * 60;
  return {
    sku: product.sku,
    onHand: Math.round(dailySales * coverDays),
    onOrder: rng() < 0.3 ? Math.round(dailySales * 14) : 0,
    leadTimeDays: [14, 21, 28, 42][Math.floor(rng() * 4)]!,
    dailySales,
    updatedAt: new Date(o.startMs).toISOString(),
  };
}
