/**
 * Synthetic signal streams for the core benchmark: 200 SKUs (popularity skewed), 12 countries,
 * 50,000 members, 20,000 posts, in event-time order. What differs between them is how fast event
 * time runs and how signals relate to posts, because that decides how many windows close per
 * signal, and a window close costs far more than adding a signal.
 */
import type { Signal, SignalKind } from '../../../shared/contracts/events.ts';
import { rng } from '../../unit/aggregator/fixtures.ts';

const START = Date.parse('2026-03-02T00:00:00Z');
const SKUS = 200;
const POSTS = 20_000;
const MEMBERS = 50_000;
const KINDS: SignalKind[] = ['upload', 'like', 'like', 'like', 'save', 'wishlist', 'share', 'comment'];
const COUNTRIES = ['GB', 'FR', 'IT', 'DE', 'US', 'JP', 'ES', 'NL', 'AU', 'AE', 'KR', 'CN'];

function skuOf(random: () => number): string {
  return `SKU-${Math.floor(random() ** 2 * SKUS)}`;
}

/** One signal of the stream: `post` and `member` are indices into the community. */
function signalOf(
  i: number,
  sku: string,
  kind: SignalKind,
  post: number,
  member: number,
  at: number,
  country: string,
): Signal {
  return {
    signalId: `s${i}`,
    sku,
    kind,
    postId: `p${post}`,
    memberId: `m${member}`,
    postMemberId: `m${(post * 7) % MEMBERS}`,
    eventTime: new Date(START + at).toISOString(),
    country,
    imageUrl: `https://img.example/p${post}.jpg`,
    matchScore: 0.8,
  };
}

/**
 * As the pipeline produces them: a post's signals all go to the SKU matched on its photo, a member
 * signals from one country, and a post gets its signals in the hours after it appears.
 * `spanMs` is the event time the stream covers.
 */
export function communitySignals(count: number, spanMs: number): Signal[] {
  const random = rng(42);
  const postSku = Array.from({ length: POSTS }, () => skuOf(random));
  return Array.from({ length: count }, (_, i) => {
    // Posts appear in order; each is active over a fifth of the span.
    const post = Math.min(POSTS - 1, Math.floor((i / count) * POSTS * 0.8 + random() * POSTS * 0.2));
    const member = Math.floor(random() * MEMBERS);
    const kind = KINDS[Math.floor(random() * KINDS.length)]!;
    const at = Math.floor((i / count) * spanMs);
    return signalOf(i, postSku[post]!, kind, post, member, at, COUNTRIES[member % COUNTRIES.length]!);
  });
}

/**
 * The harder stream the earlier figures were measured on: every signal draws its SKU, post and
 * country independently, so nearly every signal opens a new post in its panes and every country
 * scope of every SKU has a window to close at each advance. Over one day of event time.
 */
export function independentSignals(count: number): Signal[] {
  const random = rng(42);
  return Array.from({ length: count }, (_, i) => {
    const sku = skuOf(random);
    const post = Math.floor(random() * POSTS);
    const kind = KINDS[Math.floor(random() * KINDS.length)]!;
    const member = Math.floor(random() * MEMBERS);
    const country = COUNTRIES[Math.floor(random() * COUNTRIES.length)]!;
    return signalOf(i, sku, kind, post, member, Math.floor((i / count) * 86_400_000), country);
  });
}
