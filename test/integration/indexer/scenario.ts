/**
 * A small simulated run, as contract-valid events: three products, posts in three countries,
 * the embedder's mentions (with photo descriptors in an 8-dimensional space), closed trend windows
 * (the bag rising everywhere, the shoe rising in France only), two alerts and a buyer's action.
 * Shared by the indexer, search and Kibana integration tests.
 */
import type {
  AlertAction,
  CatalogueEmbedding,
  Mention,
  ReorderAlert,
  TrendWindow,
  Upload,
} from '../../../shared/contracts/events.ts';

const HOUR = 3_600_000;

export const PRODUCTS = {
  'BAG-1': { category: 'bags', name: 'Quilted leather tote', vector: [1, 0.2, 0, 0, 0.1, 0, 0, 0] },
  'SHOE-1': { category: 'shoes', name: 'Red satin pump', vector: [0, 1, 0.3, 0, 0, 0, 0.1, 0] },
  'COAT-1': { category: 'outerwear', name: 'Camel wool coat', vector: [0, 0, 0, 1, 0.2, 0.3, 0, 0] },
} as const;
export type ProductSku = keyof typeof PRODUCTS;

const CITIES = [
  { country: 'GB', city: 'London', lat: 51.5072, lon: -0.1276 },
  { country: 'FR', city: 'Paris', lat: 48.8566, lon: 2.3522 },
  { country: 'IT', city: 'Milan', lat: 45.4642, lon: 9.19 },
] as const;

/** Deterministic small perturbation so photos are near, not equal to, their product. */
function near(vector: readonly number[], seed: number): number[] {
  return vector.map((x, i) => x + 0.05 * Math.sin(seed * 7 + i * 3));
}

export interface Scenario {
  now: Date;
  uploads: Upload[];
  mentions: Mention[];
  catalogue: CatalogueEmbedding[];
  windows: TrendWindow[];
  alerts: ReorderAlert[];
  actions: AlertAction[];
}

/** Posts: 4 of the bag, 3 of the shoe, 2 of the coat, spread over the last hours before `now`. */
const POSTS: Array<{ sku: ProductSku; city: number; caption: string; hashtags: string[] }> = [
  {
    sku: 'BAG-1',
    city: 0,
    caption: 'Finally got the quilted tote for autumn',
    hashtags: ['ToteBag', 'autumn'],
  },
  { sku: 'BAG-1', city: 0, caption: 'Weekend in London with my new bag', hashtags: ['ootd', 'totebag'] },
  { sku: 'BAG-1', city: 1, caption: 'Le sac parfait', hashtags: ['totebag', 'paris'] },
  { sku: 'BAG-1', city: 2, caption: 'Quilted leather never fails', hashtags: ['leather'] },
  { sku: 'SHOE-1', city: 1, caption: 'Red satin pumps for the gala', hashtags: ['redshoes', 'gala'] },
  { sku: 'SHOE-1', city: 1, caption: 'These pumps are everything', hashtags: ['redshoes'] },
  { sku: 'SHOE-1', city: 0, caption: 'Dancing all night', hashtags: ['party'] },
  { sku: 'COAT-1', city: 2, caption: 'Camel coat season', hashtags: ['camelcoat', 'autumn'] },
  { sku: 'COAT-1', city: 0, caption: 'Layering for the cold', hashtags: ['winter'] },
];

export function buildScenario(now = new Date(Math.floor(Date.now() / HOUR) * HOUR)): Scenario {
  const at = (hoursAgo: number) => new Date(now.getTime() - hoursAgo * HOUR).toISOString();
  const uploads: Upload[] = [];
  const mentions: Mention[] = [];
  POSTS.forEach((post, i) => {
    const place = CITIES[post.city]!;
    const eventId = `evt-${i}`;
    const postId = `post-${i}`;
    const taken = at(5 - (i % 5) + 0.25);
    uploads.push({
      eventId,
      postId,
      memberId: `member-${i % 7}`,
      images: [{ url: `https://cdn.example.com/posts/${postId}/0.jpg`, contentType: 'image/jpeg' }],
      caption: post.caption,
      hashtags: post.hashtags,
      location: { ...place },
      clientTimestamp: taken,
      receivedAt: taken,
      source: 'test-app',
    });
    mentions.push({
      kind: 'mention',
      mentionId: `${eventId}:0:${post.sku}`,
      uploadEventId: eventId,
      postId,
      memberId: `member-${i % 7}`,
      imageIndex: 0,
      imageUrl: `https://cdn.example.com/posts/${postId}/0.jpg`,
      location: { ...place },
      eventTime: taken,
      modelId: 'squeezenet1.1',
      processedAt: taken,
      sku: post.sku,
      score: 0.9 - (i % 4) * 0.05,
      margin: 0.15 - (i % 4) * 0.04,
      name: PRODUCTS[post.sku].name,
      category: PRODUCTS[post.sku].category,
      rank: 1,
      photoEmbedding: near(PRODUCTS[post.sku].vector, i),
    });
  });
  // A photo that matched nothing (coverage record), still with its descriptor.
  mentions.push({
    kind: 'no-match',
    mentionId: 'evt-8:1:none',
    uploadEventId: 'evt-8',
    postId: 'post-8',
    memberId: 'member-1',
    imageIndex: 1,
    imageUrl: 'blob:sha256:' + 'a'.repeat(64),
    location: { country: 'GB', city: 'London' },
    eventTime: at(1),
    modelId: 'squeezenet1.1',
    processedAt: at(1),
    candidates: [{ sku: 'COAT-1', score: 0.31 }],
    photoEmbedding: near(PRODUCTS['COAT-1'].vector, 42),
  });

  const catalogue: CatalogueEmbedding[] = (Object.keys(PRODUCTS) as ProductSku[]).map((sku, i) => ({
    sku,
    style: sku.split('-')[0]!,
    colour: null,
    name: PRODUCTS[sku].name,
    category: PRODUCTS[sku].category,
    brand: 'Luma',
    price: 100 * (i + 1),
    modelId: 'squeezenet1.1',
    descriptor: 'test-8d',
    dimension: 8,
    views: [
      { view: 'front', contentHash: String(i).repeat(64), vector: [...PRODUCTS[sku].vector] },
      { view: 'back', contentHash: String(i + 3).repeat(64), vector: near(PRODUCTS[sku].vector, 100 + i) },
    ],
    updatedAt: at(24),
  }));

  // Six closed one-hour windows per SKU and scope.
  const windows: TrendWindow[] = [];
  const scopes = ['global', 'country:GB', 'country:FR', 'country:IT'] as const;
  for (const sku of Object.keys(PRODUCTS) as ProductSku[]) {
    for (const scope of scopes) {
      for (let h = 6; h >= 1; h--) {
        const windowStart = at(h);
        const recent = h <= 2;
        const rising =
          recent &&
          ((sku === 'BAG-1' && scope !== 'country:IT') || (sku === 'SHOE-1' && scope === 'country:FR'));
        const signals = rising ? 20 + (3 - h) * 10 : 4;
        const score = rising ? (sku === 'BAG-1' ? 6 + (3 - h) : 4.5) : 0.3;
        windows.push({
          windowId: `${sku}|${scope}|${windowStart}|${HOUR}`,
          sku,
          scope,
          windowStart,
          windowEnd: at(h - 1),
          sizeMs: HOUR,
          signals,
          weightedCount: signals * 1.5,
          distinctMembers: Math.ceil(signals / 2),
          countsByKind: { upload: Math.ceil(signals / 4), like: signals - Math.ceil(signals / 4) },
          baseline: 4,
          score,
          pValue: rising ? 0.001 : 0.6,
          rising,
          category: PRODUCTS[sku].category,
          emittedAt: at(h - 1),
        });
      }
    }
  }

  const alert = (
    sku: ProductSku,
    status: 'new' | 'escalated',
    priority: 'P1' | 'P2',
    postIds: number[],
  ): ReorderAlert => ({
    alertId: `${sku}|${at(2)}|${status}|${priority}`,
    episodeId: `${sku}|${at(2)}`,
    sku,
    status,
    priority,
    product: {
      style: sku.split('-')[0]!,
      colour: null,
      name: PRODUCTS[sku].name,
      category: PRODUCTS[sku].category,
      brand: 'Luma',
      price: 420,
    },
    score: 7,
    pValue: 0.001,
    uplift: 6.5,
    windowStart: at(2),
    windowEnd: at(1),
    series: [{ windowStart: at(2), weightedCount: 45, signals: 30 }],
    topRegions: [
      { country: 'GB', signals: 20, share: 0.66 },
      { country: 'FR', signals: 10, share: 0.33 },
    ],
    photos: postIds.map((i) => ({
      postId: `post-${i}`,
      imageUrl: `https://cdn.example.com/posts/post-${i}/0.jpg`,
      memberId: `member-${i % 7}`,
      matchScore: 0.85,
    })),
    distinctMembers: 15,
    stock: { onHand: 12, onOrder: 0, leadTimeDays: 21, dailySales: 2, daysOfCover: 6 },
    suggestedReorderQty: 40,
    raisedAt: at(1),
  });
  const alerts = [alert('BAG-1', 'new', 'P2', [0, 1, 2]), alert('BAG-1', 'escalated', 'P1', [0, 1, 2, 3])];
  const actions: AlertAction[] = [
    {
      actionId: 'action-1',
      alertId: alerts[1]!.alertId,
      sku: 'BAG-1',
      action: 'ordered',
      buyer: 'buyer@example.com',
      quantity: 40,
      at: at(0.5),
    },
  ];
  return { now, uploads, mentions, catalogue, windows, alerts, actions };
}
