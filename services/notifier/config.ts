import { z } from 'zod';
import { BaseEnv } from '../../shared/config/env.ts';

export const NotifierEnv = BaseEnv.extend({
  /** JSON file listing buyers, what they follow and how they want to hear about it (docs/buyers.md). */
  NOTIFIER_SUBSCRIPTIONS_FILE: z.string().min(1).default('config/buyers.json'),
  NOTIFIER_GROUP_ID: z.string().min(1).default('notifier'),
  /** Inbox web page. Loopback by default: put it behind the company's SSO proxy to expose it. */
  NOTIFIER_HOST: z.string().min(1).default('127.0.0.1'),
  NOTIFIER_PORT: z.coerce.number().int().min(0).max(65535).default(8088),
  /** Base URL buyers reach the inbox at, used for links in e-mails and webhooks. */
  NOTIFIER_PUBLIC_URL: z.url().optional(),
  /** ISO 4217 code of the catalogue's prices (the contract carries none): order values show it. */
  NOTIFIER_CURRENCY: z
    .string()
    .regex(/^[A-Z]{3}$/, 'an ISO 4217 currency code such as "EUR"')
    .optional(),
  /**
   * `smtp://user:pass@host:port` or `smtps://…`. Required when a buyer has `email` or `digestAt`:
   * without it the notifier refuses to start rather than drop e-mails.
   */
  SMTP_URL: z.url().optional(),
  SMTP_FROM: z.string().min(3).default('Trend Radar <trend-radar@localhost>'),
  /** Shared secret that signs webhook bodies (HMAC-SHA256); required when a buyer has a webhook. */
  NOTIFIER_WEBHOOK_SECRET: z.string().min(16).optional(),
  NOTIFIER_WEBHOOK_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
  NOTIFIER_WEBHOOK_BACKOFF_MS: z.coerce.number().int().min(1).max(60_000).default(500),
  NOTIFIER_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
});
export type NotifierConfig = z.infer<typeof NotifierEnv>;
