/**
 * Who hears about what: buyers, the categories, brands and regions they follow, and their channels.
 * Loaded from a JSON file and validated with zod so a typo fails at start with the field named,
 * rather than silently sending nothing. The format is documented in docs/buyers.md.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { ReorderAlert } from '../../shared/contracts/events.ts';
import { CountryCode } from '../../shared/contracts/primitives.ts';

export class SubscriptionsError extends Error {
  override name = 'SubscriptionsError';
}

const isTimeZone = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

const REGION_NAMES = new Intl.DisplayNames('en', { type: 'region' });
/** Codes people write for a country that are not its ISO 3166-1 alpha-2 code. */
const NOT_ISO: Record<string, string> = { UK: 'GB', EL: 'GR' };

/**
 * An ISO 3166-1 alpha-2 country code, as alerts carry them: "UK" is refused (suggesting GB), as
 * are lowercase codes (suggesting the uppercase one) and codes that name no region.
 */
const Region = z.string().superRefine((code, ctx) => {
  const fail = (message: string) => ctx.addIssue({ code: 'custom', message });
  if (NOT_ISO[code.toUpperCase()])
    return fail(`"${code}" is not an ISO 3166-1 country code: use "${NOT_ISO[code.toUpperCase()]}"`);
  if (/^[a-z]{2}$/i.test(code) && code !== code.toUpperCase())
    return fail(`country codes are uppercase: use "${code.toUpperCase()}"`);
  const parsed = CountryCode.safeParse(code);
  if (!parsed.success) return fail(parsed.error.issues[0]!.message);
  // Intl names every assigned code; an unassigned one comes back as itself or "Unknown Region".
  const name = REGION_NAMES.of(code);
  if (!name || name === code || /unknown/i.test(name))
    fail(`"${code}" is not an ISO 3166-1 country code like "GB"`);
});

const Priority = z.enum(['P1', 'P2', 'P3']);
const Status = z.enum(['new', 'escalated', 'cooled']);

// Strict objects: a misspelled key ("chanels", "webHook") is an error naming it, not a setting
// silently dropped (parseSubscriptions suggests the key meant).
export const Buyer = z
  .strictObject({
    /** Stable identifier: it keys the delivery ledger, so renaming it re-sends everything. */
    id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - (max 64)'),
    name: z.string().min(1).max(200),
    email: z.email().optional(),
    timeZone: z.string().refine(isTimeZone, 'not an IANA time zone such as "Europe/Rome"').default('UTC'),
    follows: z
      .strictObject({
        categories: z.array(z.string().min(1).max(120)).default([]),
        brands: z.array(z.string().min(1).max(120)).default([]),
        regions: z.array(Region).default([]),
        /**
         * A followed region routes an alert only when it holds at least this share (0–1) of the
         * alert's signals: 0.1 leaves out alerts where the country is a 5 % side note.
         */
        minRegionShare: z.number().min(0).max(1).default(0),
      })
      .refine((f) => f.categories.length + f.brands.length + f.regions.length > 0, {
        message: 'follow at least one category, brand or region',
      }),
    channels: z
      .strictObject({
        /** Slack-compatible incoming webhook (http or https). */
        webhook: z.url({ protocol: /^https?$/ }).optional(),
        /** One e-mail per alert as it fires. */
        email: z.boolean().default(false),
        /** One e-mail a day at this local time (HH:MM) listing the alerts not yet in a digest. */
        digestAt: z
          .string()
          .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a local time such as "08:30"')
          .optional(),
      })
      .default({ email: false }),
    /** Lowest priority worth an instant message (P1 highest); digests list every priority. */
    minPriority: Priority.default('P3'),
    /** Alert statuses worth an instant message; `cooled` goes to the digest by default. */
    instantStatuses: z.array(Status).min(1).default(['new', 'escalated']),
  })
  .refine((b) => b.email !== undefined || (!b.channels.email && b.channels.digestAt === undefined), {
    message: 'e-mail and digest channels need an email address',
    path: ['email'],
  });
export type Buyer = z.infer<typeof Buyer>;

export const Subscriptions = z
  .strictObject({ buyers: z.array(Buyer).max(10_000) })
  .refine((s) => new Set(s.buyers.map((b) => b.id)).size === s.buyers.length, {
    message: 'buyer ids must be unique',
    path: ['buyers'],
  });
export type Subscriptions = z.infer<typeof Subscriptions>;

export function parseSubscriptions(json: unknown, source = 'subscriptions'): Subscriptions {
  const parsed = Subscriptions.safeParse(json);
  if (!parsed.success) throw new SubscriptionsError(`${source}: ${describeSubscriptionIssues(parsed.error)}`);
  return parsed.data;
}

/** The keys each object of the file may have, by the last non-index part of its path. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': ['buyers'],
  buyer: ['id', 'name', 'email', 'timeZone', 'follows', 'channels', 'minPriority', 'instantStatuses'],
  follows: ['categories', 'brands', 'regions', 'minRegionShare'],
  channels: ['webhook', 'email', 'digestAt'],
};

/** Like describeIssues, with each unknown key named on its own line and the key meant suggested. */
function describeSubscriptionIssues(error: z.ZodError): string {
  const lines = error.issues.slice(0, 10).flatMap((issue) => {
    const at = issue.path.join('.');
    if (issue.code !== 'unrecognized_keys') return [`${at || '(root)'}: ${issue.message}`];
    const last = issue.path.at(-1);
    const known = KNOWN_KEYS[typeof last === 'string' ? last : issue.path.length === 0 ? '' : 'buyer'] ?? [];
    return issue.keys.map((key) => {
      const meant = closest(key, known);
      return `${at ? `${at}.` : ''}${key}: unknown key${meant ? ` (did you mean "${meant}"?)` : ` (known: ${known.join(', ')})`}`;
    });
  });
  return lines.join('; ');
}

/** The known key `key` was probably meant as: same letters ignoring case and _ -, or a small edit away. */
export function closest(key: string, known: readonly string[]): string | undefined {
  const norm = (k: string) => k.toLowerCase().replace(/[_-]/g, '');
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = norm(key) === norm(candidate) ? 0 : editDistance(norm(key), norm(candidate));
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(
        previous[j]! + 1,
        row[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = row;
  }
  return previous[b.length]!;
}

export async function loadSubscriptions(path: string): Promise<Subscriptions> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new SubscriptionsError(`cannot read subscriptions file ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SubscriptionsError(`${path} is not JSON: ${(error as Error).message}`);
  }
  return parseSubscriptions(json, path);
}

const same = (a: string | null | undefined, b: string): boolean =>
  a !== null && a !== undefined && a.trim().toLowerCase() === b.trim().toLowerCase();

/** Why `buyer` follows this alert (empty when they do not): shown in messages as "because you follow…". */
export function followReasons(buyer: Buyer, alert: ReorderAlert): string[] {
  const reasons: string[] = [];
  const category = buyer.follows.categories.find((c) => same(alert.product.category, c));
  if (category) reasons.push(`category ${alert.product.category}`);
  const brand = buyer.follows.brands.find((b) => same(alert.product.brand, b));
  if (brand) reasons.push(`brand ${alert.product.brand}`);
  // The share is in the reason: a region the buyer follows is among the alert's top regions, all of
  // which messages show, and holds at least their minRegionShare of its signals.
  const regions = alert.topRegions.filter(
    (r) => buyer.follows.regions.includes(r.country) && r.share >= buyer.follows.minRegionShare,
  );
  if (regions.length > 0)
    reasons.push(`region ${regions.map((r) => `${r.country} (${Math.round(r.share * 100)}%)`).join(', ')}`);
  return reasons;
}

export function followers(subscriptions: Subscriptions, alert: ReorderAlert): Buyer[] {
  return subscriptions.buyers.filter((buyer) => followReasons(buyer, alert).length > 0);
}

const PRIORITY_RANK = { P1: 1, P2: 2, P3: 3 } as const;

export type InstantChannel = 'webhook' | 'email';

/** The channels on which `buyer` gets this alert the moment it fires. */
export function instantChannels(buyer: Buyer, alert: ReorderAlert): InstantChannel[] {
  if (PRIORITY_RANK[alert.priority] > PRIORITY_RANK[buyer.minPriority]) return [];
  if (!buyer.instantStatuses.includes(alert.status)) return [];
  const channels: InstantChannel[] = [];
  if (buyer.channels.webhook) channels.push('webhook');
  if (buyer.channels.email) channels.push('email');
  return channels;
}

/**
 * Followed categories and brands the catalogue does not have (case-insensitive), one line each,
 * with the catalogue's closest name when one is near: such a buyer would never hear of anything.
 */
export function unknownFollows(
  subscriptions: Subscriptions,
  catalogue: { categories: Iterable<string>; brands: Iterable<string> },
): string[] {
  const lines: string[] = [];
  const check = (buyer: Buyer, kind: 'category' | 'brand', followed: string[], names: string[]) => {
    const known = new Set(names.map((n) => n.trim().toLowerCase()));
    for (const name of followed) {
      if (known.has(name.trim().toLowerCase())) continue;
      const meant = closest(name, names);
      lines.push(
        `${buyer.id}: ${kind} "${name}" is not in the catalogue${meant ? ` (did you mean "${meant}"?)` : ''}`,
      );
    }
  };
  const categories = [...catalogue.categories];
  const brands = [...catalogue.brands];
  for (const buyer of subscriptions.buyers) {
    check(buyer, 'category', buyer.follows.categories, categories);
    check(buyer, 'brand', buyer.follows.brands, brands);
  }
  return lines;
}
