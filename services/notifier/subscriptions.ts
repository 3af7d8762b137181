/**
 * Who hears about what: buyers, the categories, brands and regions they follow, and their channels.
 * Loaded from a JSON file and validated with zod so a typo fails at start with the field named,
 * rather than silently sending nothing. The format is documented in docs/buyers.md.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { ReorderAlert } from '../../shared/contracts/events.ts';
import { CountryCode } from '../../shared/contracts/primitives.ts';
import { describeIssues } from '../../shared/kafka/codec.ts';

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

const Priority = z.enum(['P1', 'P2', 'P3']);
const Status = z.enum(['new', 'escalated', 'cooled']);

export const Buyer = z
  .object({
    /** Stable identifier: it keys the delivery ledger, so renaming it re-sends everything. */
    id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - (max 64)'),
    name: z.string().min(1).max(200),
    email: z.email().optional(),
    timeZone: z.string().refine(isTimeZone, 'not an IANA time zone such as "Europe/Rome"').default('UTC'),
    follows: z
      .object({
        categories: z.array(z.string().min(1).max(120)).default([]),
        brands: z.array(z.string().min(1).max(120)).default([]),
        regions: z.array(CountryCode).default([]),
      })
      .refine((f) => f.categories.length + f.brands.length + f.regions.length > 0, {
        message: 'follow at least one category, brand or region',
      }),
    channels: z
      .object({
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
  .object({ buyers: z.array(Buyer).max(10_000) })
  .refine((s) => new Set(s.buyers.map((b) => b.id)).size === s.buyers.length, {
    message: 'buyer ids must be unique',
    path: ['buyers'],
  });
export type Subscriptions = z.infer<typeof Subscriptions>;

export function parseSubscriptions(json: unknown, source = 'subscriptions'): Subscriptions {
  const parsed = Subscriptions.safeParse(json);
  if (!parsed.success) throw new SubscriptionsError(`${source}: ${describeIssues(parsed.error)}`);
  return parsed.data;
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
  const regions = alert.topRegions.map((r) => r.country).filter((c) => buyer.follows.regions.includes(c));
  if (regions.length > 0) reasons.push(`region ${regions.join(', ')}`);
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
