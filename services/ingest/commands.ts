import type { Command } from 'commander';

/** `trend-radar ingest run | mint-key | openapi`. */
export function register(program: Command): void {
  const ingest = program
    .command('ingest')
    .description('The HTTP front door: member uploads and interactions into Kafka.')
    .addHelpText(
      'after',
      '\nSettings: docs/configuration.md; API: docs/ingest.md and docs/api/openapi.json.',
    );

  ingest
    .command('run')
    .description('serve POST /v1/uploads and /v1/interactions (plus /healthz /readyz /metrics) until SIGTERM')
    .action(async () => {
      const { loadConfig } = await import('../../shared/config/env.ts');
      const { IngestEnv } = await import('./config.ts');
      const { startIngest } = await import('./service.ts');
      const { createLogger } = await import('../../shared/observability/logger.ts');
      const { stopOnSignals } = await import('../../shared/kafka/consumer-runner.ts');
      const config = loadConfig(IngestEnv);
      const logger = createLogger('ingest', config.LOG_LEVEL);
      const service = await startIngest(config, { logger });
      logger.info({ url: service.url, metrics: `${service.url}/metrics` }, 'ingest running');
      stopOnSignals(logger, service.stop);
    });

  ingest
    .command('mint-key')
    .description('create an API key: prints the secret once and the hashed entry to store')
    .requiredOption('--name <name>', 'key name; becomes `source` on every event sent with it')
    .option('--file <path>', 'append the hashed entry to this JSON keys file (INGEST_API_KEYS_FILE)')
    .action(async (options: { name: string; file?: string }) => {
      const { mintApiKey } = await import('./api-keys.ts');
      const { key, entry } = mintApiKey(options.name);
      if (options.file) {
        const { appendKeyEntry } = await import('./key-file.ts');
        await appendKeyEntry(options.file, entry);
        console.error(`added "${entry.name}" to ${options.file}`);
      } else {
        console.error(`store this entry in INGEST_API_KEYS_FILE: ${JSON.stringify(entry)}`);
        console.error(`or inline: INGEST_API_KEYS=${entry.name}:${entry.sha256}`);
      }
      console.error('the key itself is shown only now; give it to the source:');
      console.log(key);
    });

  ingest
    .command('openapi')
    .description('write the OpenAPI document generated from the request schemas')
    .option('--out <path>', 'output file', 'docs/api/openapi.json')
    .action(async (options: { out: string }) => {
      const { mkdir, writeFile } = await import('node:fs/promises');
      const { dirname } = await import('node:path');
      const { openApiDocument } = await import('./openapi.ts');
      await mkdir(dirname(options.out), { recursive: true });
      await writeFile(options.out, `${JSON.stringify(openApiDocument(), null, 2)}\n`);
      console.log(`wrote ${options.out}`);
    });
}
