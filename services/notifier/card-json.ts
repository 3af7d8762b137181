/**
 * An inbox card as `GET /api/alerts` returns it: what the inbox page shows on the card (priority,
 * status, product, photos, trend, regions, stock, days of cover, suggested quantity, what buyers
 * did), as data rather than markup. Documented in docs/buyers.md ("The buyer inbox").
 */
import type { AlertAction } from '../../shared/contracts/events.ts';
import type { Card, CardState } from './inbox-state.ts';
import { adviceText, changeText, daysOfCoverText, photoSrc, productTitle } from './present.ts';

export interface CardJson {
  alertId: string;
  episodeId: string;
  sku: string;
  /** Where the card sits in the inbox: open, acknowledged, snoozed, ordered, cooled. */
  state: CardState;
  /** The alert's own status: new, escalated, cooled. */
  status: 'new' | 'escalated' | 'cooled';
  priority: 'P1' | 'P2' | 'P3';
  raisedAt: string;
  /** "Brand — name", as the card's heading. */
  title: string;
  product: {
    name: string | null;
    brand: string | null;
    category: string | null;
    colour: string | null;
    style: string | null;
    price: number | null;
  };
  uplift: number;
  members: number;
  /** Top regions, largest share first; share is 0–1. */
  regions: Array<{ country: string; share: number; signals: number }>;
  stock: {
    onHand: number;
    onOrder: number;
    leadTimeDays: number;
    dailySales: number;
    daysOfCover: number | null;
  } | null;
  daysOfCover: number | null;
  /** As the card writes it: "5.7 days", "no recent sales", "no stock record". */
  daysOfCoverText: string;
  suggestedQuantity: number | null;
  /** Photos a browser can load: https as they are, uploaded ones through the inbox's /blobs route. */
  photos: Array<{ url: string; postId: string; memberId: string; matchScore?: number }>;
  /** The trend chart's data, oldest window first. */
  series: Array<{ windowStart: string; weightedCount: number; signals: number }>;
  /** The action that put the card in its state (acknowledge, snooze, ordered), or null. */
  decision: AlertAction | null;
  /** Every action on this episode, oldest first. */
  actions: AlertAction[];
  /** The latest order on the episode, also when an escalation asking for more re-opened the card. */
  lastOrder: AlertAction | null;
  /** What changed since the episode's previous alert (escalated, cooled), or null. */
  change: string | null;
  /** What the buyer is asked to do, as the card says it. */
  advice: string;
}

/** `base`: the inbox's public URL, so blob photos get absolute links; relative (/blobs/…) without. */
export function cardJson(card: Card, base?: string): CardJson {
  const { alert } = card;
  const { product } = alert;
  return {
    alertId: alert.alertId,
    episodeId: alert.episodeId,
    sku: alert.sku,
    state: card.state,
    status: alert.status,
    priority: alert.priority,
    raisedAt: alert.raisedAt,
    title: productTitle(alert),
    product: {
      name: product.name,
      brand: product.brand,
      category: product.category,
      colour: product.colour,
      style: product.style,
      price: product.price,
    },
    uplift: alert.uplift,
    members: alert.distinctMembers,
    regions: alert.topRegions.map((r) => ({ country: r.country, share: r.share, signals: r.signals })),
    stock: alert.stock,
    daysOfCover: alert.stock?.daysOfCover ?? null,
    daysOfCoverText: daysOfCoverText(alert),
    suggestedQuantity: alert.suggestedReorderQty,
    photos: alert.photos.flatMap((photo) => {
      const url = photoSrc(photo.imageUrl, base);
      if (url === undefined) return [];
      return [
        {
          url,
          postId: photo.postId,
          memberId: photo.memberId,
          ...(photo.matchScore !== undefined ? { matchScore: photo.matchScore } : {}),
        },
      ];
    }),
    series: alert.series,
    decision: card.decisive ?? null,
    actions: card.actions,
    lastOrder: card.lastOrder ?? null,
    change: changeText(alert, { history: card.history }) ?? null,
    advice: adviceText(alert),
  };
}
