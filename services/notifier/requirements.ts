/**
 * The settings a subscriptions file needs before the notifier may start: a webhook secret when a
 * buyer has a webhook, SMTP when a buyer gets e-mail or a digest. One rule for `notifier run` (which
 * refuses to start rather than silently not send) and `notifier check` (which says so beforehand).
 */
import type { NotifierConfig } from './config.ts';
import { type Subscriptions, SubscriptionsError } from './subscriptions.ts';

export type RequirementSettings = Pick<NotifierConfig, 'NOTIFIER_WEBHOOK_SECRET' | 'SMTP_URL'>;

export interface RequirementOptions {
  /** A mailer handed in by the caller (tests, embedding) stands in for SMTP_URL. */
  hasMailer?: boolean;
}

/** One line per missing setting, naming the buyers who need it; empty when nothing is missing. */
export function missingSettings(
  config: RequirementSettings,
  subscriptions: Subscriptions,
  options: RequirementOptions = {},
): string[] {
  const missing: string[] = [];
  const needsWebhookSecret = subscriptions.buyers.filter((b) => b.channels.webhook).map((b) => b.id);
  if (needsWebhookSecret.length > 0 && !config.NOTIFIER_WEBHOOK_SECRET)
    missing.push(
      `NOTIFIER_WEBHOOK_SECRET is required: buyers ${needsWebhookSecret.join(', ')} have a webhook`,
    );
  const needsSmtp = subscriptions.buyers
    .filter((b) => b.channels.email || b.channels.digestAt)
    .map((b) => b.id);
  if (needsSmtp.length > 0 && !config.SMTP_URL && !options.hasMailer)
    missing.push(`SMTP_URL is required: buyers ${needsSmtp.join(', ')} get e-mail`);
  return missing;
}

/** Throws a SubscriptionsError listing every missing setting at once. */
export function requireSettings(
  config: RequirementSettings,
  subscriptions: Subscriptions,
  options: RequirementOptions = {},
): void {
  const missing = missingSettings(config, subscriptions, options);
  if (missing.length === 1) throw new SubscriptionsError(missing[0]!);
  if (missing.length > 1)
    throw new SubscriptionsError(`${missing.length} settings are missing:\n  ${missing.join('\n  ')}`);
}
