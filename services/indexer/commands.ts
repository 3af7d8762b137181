import { type Command, Option } from 'commander';
import { INDEXED_TOPICS, type IndexedTopic } from './indexed-topics.ts';

const RISING_DIMENSIONS = ['sku', 'country', 'category'] as const;

export interface RisingFlags {
  since: string;
  country?: string;
  category?: string;
  by: string;
  size: string;
}

/** What `search rising` asks for: per SKU or grouped, with the region and category filters of either. */
export function risingRequest(o: RisingFlags): {
  by: (typeof RISING_DIMENSIONS)[number];
  options: { since: string; size: number; country?: string; category?: string };
} {
  if (!(RISING_DIMENSIONS as readonly string[]).includes(o.by))
    throw new Error(`--by must be one of ${RISING_DIMENSIONS.join(', ')}, not "${o.by}"`);
  const size = sizeFlag(o.size, 'rows');
  return {
    by: o.by as (typeof RISING_DIMENSIONS)[number],
    options: {
      since: o.since,
      size,
      ...(o.country ? { country: o.country } : {}),
      ...(o.category ? { category: o.category } : {}),
    },
  };
}

/**
 * `--size` of the search commands: a whole number, 1 or more, and at most `max` when the query has
 * a limit (checked before any query is sent).
 */
export function sizeFlag(text: string, unit: string, limit?: { max: number; why: string }): number {
  const size = Number(text);
  if (!/^\d+$/.test(text.trim()) || size < 1)
    throw new Error(`--size must be a whole number of ${unit} (1 or more), not "${text}"`);
  if (limit && size > limit.max)
    throw new Error(
      `--size is at most ${limit.max.toLocaleString('en')} ${unit} (${limit.why}), not ${size}`,
    );
  return size;
}

/** Elasticsearch's kNN limit (KNN_MAX_CANDIDATES in shared/elasticsearch/queries.ts, not imported: loaded lazily). */
export const LOOKS_LIKE_MAX_SIZE = 10_000;
/** The daily windows' size (DAILY_WINDOW_MS in shared/elasticsearch/queries.ts). */
const DAY_MS = 86_400_000;

export interface TimelineFlags {
  since: string;
  country?: string;
  daily?: boolean;
}

/** What `search timeline` asks for: the hourly windows, or the daily ones with `--daily`. */
export function timelineRequest(o: TimelineFlags): { since: string; country?: string; sizeMs?: number } {
  return {
    since: o.since,
    ...(o.country ? { country: o.country } : {}),
    ...(o.daily ? { sizeMs: DAY_MS } : {}),
  };
}

export interface LooksLikeFlags {
  model?: string;
  size: string;
  includeMatched?: boolean;
}

/** What `search looks-like` asks for: by default without the photos already matched to the SKU. */
export function looksLikeRequest(o: LooksLikeFlags): {
  size: number;
  modelId?: string;
  includeMatched: boolean;
} {
  return {
    size: sizeFlag(o.size, 'photos', { max: LOOKS_LIKE_MAX_SIZE, why: "Elasticsearch's kNN limit" }),
    ...(o.model ? { modelId: o.model } : {}),
    includeMatched: o.includeMatched ?? false,
  };
}

/**
 * A search that Elasticsearch refused, in one line naming the command and Elasticsearch's own
 * reason (its deepest cause, not "all shards failed"); other errors (connection…) are left to the
 * CLI's explanation.
 */
export function searchFailure(command: string, error: unknown, reason: string | undefined): unknown {
  if (reason === undefined) return error;
  const status = (error as { meta?: { statusCode?: number } }).meta?.statusCode;
  return new Error(
    `search ${command}: Elasticsearch refused the query${status ? ` (HTTP ${status})` : ''}: ${reason}`,
    { cause: error },
  );
}

/** The exit status shells give a process ended by the signal: 128 + its number. */
export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
/** How long a clean stop may take before the process exits anyway (still with the signal's status). */
export const INTERRUPT_GRACE_MS = 20_000;

/** The one line reindex prints when a signal stopped it. */
export function interruptedMessage(
  interruption: { reason: string; indicesTouched: boolean; groupId: string; stopFailed?: string },
  what: string,
): string {
  if (interruption.stopFailed !== undefined)
    return (
      `reindex interrupted (${interruption.reason}), and stopping failed: ${interruption.stopFailed}. ` +
      `${what.charAt(0).toUpperCase()}${what.slice(1)} may be PARTIAL, and group ${interruption.groupId} may list its consumer until the session times out ` +
      '(about 30 s): then run `trend-radar reindex` again to rebuild them.'
    );
  return interruption.indicesTouched
    ? `reindex interrupted (${interruption.reason}): stopped consuming, abandoned the bulk request in flight and left ` +
        `group ${interruption.groupId}; ${what} are PARTIAL (deleted, not fully rebuilt). ` +
        'Run `trend-radar reindex` again to rebuild them.'
    : `reindex interrupted (${interruption.reason}) before any index was deleted: nothing changed.`;
}

/**
 * SIGINT/SIGTERM while reindex runs: abort it (it stops cleanly and leaves its group) and exit with
 * 130/143. A repeat within a second is the same stop delivered twice (the launcher and the
 * process group); a later one, or a stop that takes longer than INTERRUPT_GRACE_MS, exits at once
 * (the group then keeps the member until its session times out).
 */
function onInterrupt() {
  const controller = new AbortController();
  let received: keyof typeof SIGNAL_EXIT_CODES | undefined;
  let at = 0;
  const exitCode = () => (received ? SIGNAL_EXIT_CODES[received] : 1);
  const listener = (signal: keyof typeof SIGNAL_EXIT_CODES) => {
    if (received === undefined) {
      received = signal;
      at = Date.now();
      process.stderr.write(`\ntrend-radar: ${signal}: stopping the reindex…\n`);
      controller.abort(signal);
      setTimeout(() => {
        process.stderr.write(
          `trend-radar: the reindex did not stop within ${INTERRUPT_GRACE_MS / 1000} s; exiting. Its indices are partial; ` +
            'its consumer stays in the group until its session times out (about 30 s), then run `trend-radar reindex` again.\n',
        );
        process.exit(exitCode());
      }, INTERRUPT_GRACE_MS).unref();
    } else if (Date.now() - at > 1_000) {
      process.stderr.write(
        'trend-radar: asked again: exiting now. The indices are partial; the consumer stays in the group until its ' +
          'session times out (about 30 s), then run `trend-radar reindex` again.\n',
      );
      process.exit(exitCode());
    }
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return {
    signal: controller.signal,
    exitCode,
    dispose: () => {
      process.off('SIGINT', listener);
      process.off('SIGTERM', listener);
    },
  };
}

/** `reindex --topics`: indexed topic ids, comma-separated; refused in terms of the flag. */
export function reindexTopics(text: string): IndexedTopic[] {
  const ids = text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  const known = INDEXED_TOPICS as readonly string[];
  const unknown = ids.filter((id) => !known.includes(id));
  if (ids.length === 0 || unknown.length > 0)
    throw new Error(
      `--topics ${ids.length === 0 ? 'names no topic' : `names ${unknown.map((id) => `"${id}"`).join(', ')}, which the indexer does not index`}: ` +
        `give one or more of ${known.join(', ')}, comma-separated`,
    );
  return ids as IndexedTopic[];
}

/** `es apply|retention`, `indexer run`, `reindex`, `search …` and `kibana import`. */
export function register(program: Command): void {
  const es = program.command('es').description('Elasticsearch index templates, indices and retention');
  es.command('apply')
    .description('create or update the index templates, bootstrap indices and aliases (idempotent)')
    .action(async () => {
      const { loadConfig } = await import('../../shared/config/env.ts');
      const { IndexerEnv } = await import('./config.ts');
      const { applyElasticsearch } = await import('./service.ts');
      const changes = await applyElasticsearch(loadConfig(IndexerEnv));
      for (const change of changes)
        console.log(
          `${change.action.padEnd(13)} ${change.target}${change.detail ? `  (${change.detail})` : ''}`,
        );
      if (changes.some((c) => c.action === 'drift')) process.exitCode = 1;
    });
  es.command('retention')
    .description(
      'delete the monthly indices past ES_RETENTION_DAYS now (the indexer also runs this on ES_RETENTION_CRON)',
    )
    .option('--dry-run', 'only list what would be deleted')
    .action(async (options: { dryRun?: boolean }) => {
      const { loadConfig } = await import('../../shared/config/env.ts');
      const { IndexerEnv } = await import('./config.ts');
      const { createElasticsearch } = await import('../../shared/elasticsearch/client.ts');
      const { deleteExpiredIndices, expiredIndices } = await import(
        '../../shared/elasticsearch/retention.ts'
      );
      const { FAMILIES, indexPattern } = await import('../../shared/elasticsearch/indices.ts');
      const config = loadConfig(IndexerEnv);
      const client = createElasticsearch(config.ELASTICSEARCH_URL);
      try {
        let expired: string[];
        if (options.dryRun) {
          const existing = await client.indices.get({
            index: FAMILIES.filter((f) => f.timeBased)
              .map((f) => indexPattern(config.ES_INDEX_PREFIX, f.id))
              .join(','),
            allow_no_indices: true,
            ignore_unavailable: true,
            filter_path: '*.settings.index.provided_name',
          });
          expired = expiredIndices(
            config.ES_INDEX_PREFIX,
            Object.keys(existing ?? {}),
            new Date(),
            config.ES_RETENTION_DAYS,
          );
        } else {
          expired = await deleteExpiredIndices(client, config.ES_INDEX_PREFIX, config.ES_RETENTION_DAYS);
        }
        for (const index of expired) console.log(`${options.dryRun ? 'would delete' : 'deleted'} ${index}`);
        if (expired.length === 0) console.log(`nothing older than ${config.ES_RETENTION_DAYS} days`);
      } finally {
        await client.close();
      }
    });

  program
    .command('indexer')
    .description('Kafka → Elasticsearch: posts, mentions, trend windows, alerts, alert actions, catalogue')
    .command('run')
    .description('run the indexer until SIGTERM; serves /metrics /healthz /readyz on METRICS_PORT')
    .action(async () => {
      const { loadConfig } = await import('../../shared/config/env.ts');
      const { IndexerEnv } = await import('./config.ts');
      const { startIndexer } = await import('./service.ts');
      const { createLogger } = await import('../../shared/observability/logger.ts');
      const { createRegistry, serveHealth } = await import('../../shared/observability/metrics.ts');
      const { stopOnSignals } = await import('../../shared/kafka/consumer-runner.ts');
      const config = loadConfig(IndexerEnv);
      const logger = createLogger('indexer', config.LOG_LEVEL);
      const registry = createRegistry('indexer');
      let indexer: Awaited<ReturnType<typeof startIndexer>> | undefined;
      // The port first, before any Kafka work: a busy METRICS_PORT fails here, not after the
      // consumer joined its group (a rebalance for the other indexers). Ready once started, while
      // the consumer runs (joined, not crashed, not stuck) and Elasticsearch answers.
      const health = await serveHealth(registry, config.METRICS_PORT, () => indexer?.health().ready === true);
      logger.info({ port: health.port }, 'metrics and health endpoint listening');
      const started = await startIndexer(config, { logger, registry }).catch(async (error: unknown) => {
        await health.close();
        throw error;
      });
      indexer = started;
      stopOnSignals(
        logger,
        () => started.stop(),
        () => health.close(),
      );
    });

  program
    .command('reindex')
    .description('rebuild the Elasticsearch indices from Kafka (stop the running indexers first)')
    .option('--topics <ids>', 'only these topic ids, comma-separated (default: all indexed topics)')
    .option('--yes', 'do not ask for confirmation before deleting the indices (required without a terminal)')
    .action(async (options: { topics?: string; yes?: boolean }) => {
      const topics = options.topics === undefined ? undefined : reindexTopics(options.topics);
      const { loadConfig } = await import('../../shared/config/env.ts');
      const { IndexerEnv, indexerGroupId } = await import('./config.ts');
      const { confirmation } = await import('../replay/plan.ts');
      const config = loadConfig(IndexerEnv, {
        ...process.env,
        ...(topics ? { INDEXER_TOPICS: topics.join(',') } : {}),
      });
      const what = `the ${config.ES_INDEX_PREFIX} indices of ${config.INDEXER_TOPICS.join(', ')}`;
      const go = confirmation(true, {
        yes: options.yes ?? false,
        interactive: Boolean(process.stdin.isTTY),
      });
      if (go === 'refuse')
        throw new Error(
          `reindex deletes ${what} and rebuilds them from Kafka: it asks first, and without a terminal ` +
            'there is nobody to ask. Nothing done; re-run with --yes to reindex without confirmation.',
        );
      if (go === 'ask') {
        const { createInterface } = await import('node:readline/promises');
        const rl = createInterface({ input: process.stdin, output: process.stdout });
        const answer = await rl.question(`Delete ${what} and rebuild them from Kafka? [y/N] `);
        rl.close();
        if (!/^y(es)?$/i.test(answer.trim())) {
          console.log('nothing done');
          return;
        }
      }
      const { reindex, REINDEX_CLIENT_ID_SUFFIX } = await import('./reindex.ts');
      const { createKafka } = await import('../../shared/kafka/client.ts');
      const { requireTopics } = await import('../../shared/kafka/required-topics.ts');
      const { createElasticsearch } = await import('../../shared/elasticsearch/client.ts');
      const { createLogger } = await import('../../shared/observability/logger.ts');
      const logger = createLogger('reindex', config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
      // Its own client id, so that a group member it leaves behind (killed) is not taken for an indexer.
      const kafka = createKafka(
        { brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}${REINDEX_CLIENT_ID_SUFFIX}` },
        logger,
      );
      // Before any index is deleted: without its topics nothing could be rebuilt.
      await requireTopics(kafka, 'reindex', config.TOPIC_NAMESPACE, [
        ...config.INDEXER_TOPICS,
        'dead-letters',
      ]);
      const client = createElasticsearch(config.ELASTICSEARCH_URL);
      const interruption = onInterrupt();
      let progressShown = false;
      try {
        let last = -1;
        const report = await reindex(config, {
          kafka,
          elasticsearch: client,
          logger,
          signal: interruption.signal,
          onProgress: (done, total) => {
            if (done === last) return;
            last = done;
            progressShown = true;
            process.stdout.write(`\rreindexed ${done}/${total} records`);
          },
        });
        console.log(
          `\ndeleted ${report.deletedIndices.length} indices, re-read ${report.records} records from ${report.topics.length} topics in ${report.seconds.toFixed(1)}s`,
        );
      } catch (error) {
        const { ReindexInterrupted } = await import('./reindex.ts');
        if (!(error instanceof ReindexInterrupted) && !interruption.signal.aborted) throw error;
        if (progressShown) process.stdout.write('\n');
        await client.close().catch(() => {});
        const stopped =
          error instanceof ReindexInterrupted
            ? error
            : // Interrupted, and the stop itself failed: say both, and assume the worst.
              {
                reason: String(interruption.signal.reason),
                indicesTouched: true,
                groupId: indexerGroupId(config),
                stopFailed: error instanceof Error ? error.message : String(error),
              };
        process.stderr.write(`trend-radar: ${interruptedMessage(stopped, what)}\n`);
        process.exit(interruption.exitCode());
      } finally {
        interruption.dispose();
        await client.close();
      }
    });

  registerSearch(program);
  registerKibana(program);
}

function registerSearch(program: Command): void {
  const search = program.command('search').description("merchandisers' queries against Elasticsearch");
  const run = async (
    command: string,
    query: (q: import('../../shared/elasticsearch/queries.ts').MerchandiserQueries) => Promise<unknown>,
  ) => {
    const { loadConfig } = await import('../../shared/config/env.ts');
    const { AggregatorEnv } = await import('../aggregator/config.ts');
    const { createElasticsearch } = await import('../../shared/elasticsearch/client.ts');
    const { MerchandiserQueries, elasticsearchReason } = await import(
      '../../shared/elasticsearch/queries.ts'
    );
    // The aggregator's settings too: timelines and rising products read its hopping windows.
    const config = loadConfig(AggregatorEnv);
    const client = createElasticsearch(config.ELASTICSEARCH_URL);
    const queries = new MerchandiserQueries(client, config.ES_INDEX_PREFIX, {
      windowSizeMs: config.AGGREGATOR_WINDOW_SIZE_MS,
    });
    try {
      const result = await query(queries).catch((error: unknown) => {
        throw searchFailure(command, error, elasticsearchReason(error));
      });
      console.log(JSON.stringify(result, null, 2));
    } finally {
      await client.close();
    }
  };
  search
    .command('rising')
    .description(
      'rising products now: SKUs with rising windows that ended in the look-back, most weighted signals first',
    )
    .option('--since <duration>', 'look-back over window ends, e.g. 2h, 6h, 2d', '24h')
    .option('--country <code>', 'one region (ISO country code)')
    .option('--category <name>', 'one category')
    .addOption(
      new Option('--by <dimension>', 'group by: sku (one row per SKU), country or category')
        .choices(RISING_DIMENSIONS)
        .default('sku'),
    )
    .option('--size <n>', 'rows', '20')
    .action((o: RisingFlags) => {
      const request = risingRequest(o);
      return run('rising', (q) =>
        request.by === 'sku' ? q.risingProducts(request.options) : q.risingBy(request.by, request.options),
      );
    });
  search
    .command('timeline <sku>')
    .description("a SKU's windows over time, hourly or --daily (global scope unless --country)")
    .option('--since <duration>', 'look-back over window ends, e.g. 7d, 14d', '7d')
    .option('--country <code>', 'one region (ISO country code)')
    .option('--daily', "the daily windows (one per UTC day; a day's window appears once the day is over)")
    .action((sku: string, o: TimelineFlags) => {
      const request = timelineRequest(o);
      return run('timeline', (q) => q.skuTimeline(sku, request));
    });
  search
    .command('posts <sku>')
    .description('posts whose photos mention the SKU, best match first, with their photos')
    .option('--size <n>', 'posts', '20')
    .action((sku: string, o: { size: string }) => {
      const size = sizeFlag(o.size, 'posts');
      return run('posts', (q) => q.postsMentioningSku(sku, { size }));
    });
  search
    .command('text <query>')
    .description('full-text search of captions and hashtags')
    .option('--size <n>', 'posts', '20')
    .action((text: string, o: { size: string }) => {
      const size = sizeFlag(o.size, 'posts');
      return run('text', (q) => q.searchPosts(text, { size }));
    });
  search
    .command('looks-like <sku>')
    .description(
      'photos that look like this product and are not matched to it (the ones the matcher missed): kNN of its catalogue vectors against photo descriptors',
    )
    .option('--model <id>', 'catalogue model id (default: the most recently updated)')
    .option('--include-matched', 'also the photos already matched to this SKU')
    .option('--size <n>', `photos (at most ${LOOKS_LIKE_MAX_SIZE.toLocaleString('en')})`, '20')
    .action((sku: string, o: LooksLikeFlags) => {
      const request = looksLikeRequest(o);
      return run('looks-like', (q) => q.postsLookingLike(sku, request));
    });
}

function registerKibana(program: Command): void {
  const kibana = program
    .command('kibana')
    .description('Kibana saved objects (infra/kibana): data views, searches, dashboards');
  kibana
    .command('generate')
    .description('write infra/kibana/trend-radar.ndjson from infra/kibana/saved-objects.ts')
    .option('--out <path>', 'output file (default: infra/kibana/trend-radar.ndjson of this install)')
    .action(async (o: { out?: string }) => {
      const { writeFile } = await import('node:fs/promises');
      const { fileURLToPath } = await import('node:url');
      const { savedObjects, toNdjson } = await import('../../infra/kibana/saved-objects.ts');
      const objects = savedObjects();
      const out = o.out ?? fileURLToPath(new URL('../../infra/kibana/trend-radar.ndjson', import.meta.url));
      await writeFile(out, toNdjson(objects));
      console.log(`wrote ${objects.length} saved objects to ${out}`);
    });
  kibana
    .command('import')
    .description("load infra/kibana/trend-radar.ndjson through Kibana's saved-objects import API (overwrite)")
    .requiredOption('--url <url>', 'Kibana base URL, e.g. http://127.0.0.1:5601')
    .option('--space <id>', 'Kibana space (default space when omitted)')
    .option(
      '--file <path>',
      'saved objects NDJSON (default: the infra/kibana/trend-radar.ndjson of this install)',
    )
    .option('--auth <user:password>', 'basic authentication (or set KIBANA_AUTH)')
    .action(async (o: { url: string; space?: string; file?: string; auth?: string }) => {
      const { fileURLToPath } = await import('node:url');
      const { loadConfig } = await import('../../shared/config/env.ts');
      const { KibanaImportEnv } = await import('./config.ts');
      const { importSavedObjects, formatImportReport } = await import('./kibana-import.ts');
      const { ES_INDEX_PREFIX, KIBANA_AUTH } = loadConfig(KibanaImportEnv);
      const auth = o.auth ?? KIBANA_AUTH;
      const report = await importSavedObjects({
        kibanaUrl: o.url,
        file: o.file ?? fileURLToPath(new URL('../../infra/kibana/trend-radar.ndjson', import.meta.url)),
        prefix: ES_INDEX_PREFIX,
        ...(o.space ? { space: o.space } : {}),
        ...(auth ? { auth } : {}),
      });
      console.log(formatImportReport(report));
      if (!report.success) process.exitCode = 1;
    });
}
