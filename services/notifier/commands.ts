import type { Command } from 'commander';

/** `trend-radar notifier run` and `trend-radar notifier check`. */
export function register(program: Command): void {
  const notifier = program
    .command('notifier')
    .description(
      'Deliver reorder alerts to buyers (webhook, e-mail, daily digest) and serve the buyer inbox.',
    )
    .addHelpText('after', '\nSettings: docs/configuration.md; subscriptions file format: docs/buyers.md.');

  notifier
    .command('run')
    .description('consume reorder alerts, deliver them and serve the inbox until SIGTERM')
    .action(async () => {
      const { loadConfig } = await import('../../shared/config/env.ts');
      const { NotifierEnv } = await import('./config.ts');
      const { startNotifier } = await import('./service.ts');
      const { createLogger } = await import('../../shared/observability/logger.ts');
      const { stopOnSignals } = await import('../../shared/kafka/consumer-runner.ts');
      const config = loadConfig(NotifierEnv);
      const logger = createLogger('notifier', config.LOG_LEVEL);
      const service = await startNotifier(config, { logger });
      // /metrics, /healthz and /readyz are served by the inbox server itself.
      logger.info(
        { inbox: service.inboxUrl, metrics: new URL('/metrics', service.inboxUrl).href },
        'notifier running',
      );
      stopOnSignals(logger, service.stop);
    });

  notifier
    .command('check')
    .description(
      'validate the subscriptions file, print who follows what, and fail if a setting `run` needs is missing',
    )
    .option(
      '--catalogue <feed>',
      'catalogue feed file (JSON or CSV, as `catalogue sync` reads it; default CATALOGUE_FEED): warn about followed categories and brands it does not have',
    )
    .action(async (options: { catalogue?: string }) => {
      const { loadConfig } = await import('../../shared/config/env.ts');
      const { NotifierEnv } = await import('./config.ts');
      const { loadSubscriptions, unknownFollows } = await import('./subscriptions.ts');
      const { requireSettings } = await import('./requirements.ts');
      const config = loadConfig(NotifierEnv);
      const subscriptions = await loadSubscriptions(config.NOTIFIER_SUBSCRIPTIONS_FILE);
      for (const b of subscriptions.buyers) {
        const follows = [
          ...b.follows.categories.map((c) => `category:${c}`),
          ...b.follows.brands.map((c) => `brand:${c}`),
          ...b.follows.regions.map((c) => `region:${c}`),
        ];
        const channels = [
          b.channels.webhook ? 'webhook' : '',
          b.channels.email ? 'email' : '',
          b.channels.digestAt ? `digest@${b.channels.digestAt} ${b.timeZone}` : '',
        ].filter(Boolean);
        console.log(`${b.id.padEnd(16)} ${follows.join(', ')}  →  ${channels.join(', ') || 'inbox only'}`);
      }
      const feed = options.catalogue ?? process.env.CATALOGUE_FEED;
      if (feed) {
        const { readFeed } = await import('../catalogue/feed.ts');
        const { products } = await readFeed(feed);
        const names = (pick: (p: (typeof products)[number]) => string | null) =>
          new Set(products.map(pick).filter((n): n is string => n !== null));
        const warnings = unknownFollows(subscriptions, {
          categories: names((p) => p.category),
          brands: names((p) => p.brand),
        });
        for (const warning of warnings) console.warn(`warning: ${warning}`);
        if (warnings.length === 0) console.log(`every followed category and brand is in ${feed}`);
      } else {
        console.log(
          'categories and brands not checked against the catalogue: give --catalogue <feed> (or set CATALOGUE_FEED)',
        );
      }
      // The same start-up requirements as `notifier run`: a file that passes here also starts.
      requireSettings(config, subscriptions);
    });
}
