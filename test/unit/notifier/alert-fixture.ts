/** A realistic reorder alert for notifier tests; override any field. */
import type { ReorderAlert } from '../../../shared/contracts/events.ts';

export function alertFixture(overrides: Partial<ReorderAlert> = {}): ReorderAlert {
  const sku = overrides.sku ?? 'SH-RED-001';
  const episodeStart = '2026-03-02T09:00:00.000Z';
  const status = overrides.status ?? 'new';
  return {
    alertId: `${sku}|${episodeStart}|${status}|1`,
    episodeId: `${sku}|${episodeStart}`,
    sku,
    status,
    priority: 'P1',
    product: {
      style: 'SH-RED',
      colour: 'red',
      name: 'Patent leather pumps',
      category: 'Shoes',
      brand: 'Maison Rouge',
      price: 690,
    },
    score: 5.2,
    pValue: 0.0004,
    uplift: 4.3,
    windowStart: '2026-03-02T09:00:00.000Z',
    windowEnd: '2026-03-02T10:00:00.000Z',
    series: [2, 3, 2, 4, 3, 5, 9, 14, 21].map((weightedCount, i) => ({
      windowStart: new Date(Date.parse('2026-03-02T01:00:00.000Z') + i * 3_600_000).toISOString(),
      weightedCount,
      signals: Math.round(weightedCount),
    })),
    topRegions: [
      { country: 'IT', signals: 30, share: 0.5 },
      { country: 'FR', signals: 18, share: 0.3 },
      { country: 'GB', signals: 12, share: 0.2 },
    ],
    photos: [
      {
        postId: 'post-1',
        imageUrl: 'https://cdn.example.com/photos/red-pumps.jpg',
        memberId: 'm-1',
        matchScore: 0.91,
      },
    ],
    distinctMembers: 42,
    stock: { onHand: 37, onOrder: 0, leadTimeDays: 21, dailySales: 6.5, daysOfCover: 5.7 },
    suggestedReorderQty: 180,
    raisedAt: '2026-03-02T10:00:05.000Z',
    ...overrides,
  };
}
