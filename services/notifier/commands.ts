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
    .action(async () => {
      const { loadConfig } = await import('../../shared/config/env.ts');
      const { NotifierEnv } = await import('./config.ts');
      const { loadSubscriptions } = await import('./subscriptions.ts');
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
      // The same start-up requirements as `notifier run`: a file that passes here also starts.
      requireSettings(config, subscriptions);
    });
}
