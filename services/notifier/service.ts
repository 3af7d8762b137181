/**
 * The notifier in-process: delivers reorder alerts to the buyers who follow them (webhook, e-mail,
 * daily digest) and serves the buyer inbox. Started by `trend-radar notifier run` and by the demo.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import fastify, { type FastifyInstance } from 'fastify';
import type { Kafka, Producer } from 'kafkajs';
import cron, { type ScheduledTask } from 'node-cron';
import { z } from 'zod';
import { BlobNotFoundError, type BlobStore, FilesystemBlobStore } from '../../shared/blobstore/blob-store.ts';
import { AlertAction, ReorderAlert } from '../../shared/contracts/events.ts';
import { topicName } from '../../shared/contracts/topics.ts';
import { connectProducer, createKafka } from '../../shared/kafka/client.ts';
import { decode, describeIssues, encode } from '../../shared/kafka/codec.ts';
import {
  type ConsumerHealth,
  ConsumerRunner,
  combinedHealth,
  type Outcome,
  outcomeOf,
} from '../../shared/kafka/consumer-runner.ts';
import { requireTopics } from '../../shared/kafka/required-topics.ts';
import { followTopics } from '../../shared/kafka/topic-follower.ts';
import { createLogger, type Logger } from '../../shared/observability/logger.ts';
import { cannotListen, createRegistry, type Registry } from '../../shared/observability/metrics.ts';
import { sniffImageType } from '../../shared/vision/image-type.ts';
import { cardJson } from './card-json.ts';
import type { NotifierConfig } from './config.ts';
import { Deliverer, dailyCron } from './deliverer.ts';
import { createMailer, type Mailer } from './email.ts';
import { INBOX_CSS, INBOX_JS, renderInboxPage } from './inbox-page.ts';
import { InboxState } from './inbox-state.ts';
import { DeliveryLedger } from './ledger.ts';
import { requireSettings } from './requirements.ts';
import {
  followers,
  followReasons,
  loadSubscriptions,
  type Subscriptions,
  SubscriptionsError,
} from './subscriptions.ts';

export interface NotifierDeps {
  kafka?: Kafka;
  logger?: Logger;
  registry?: Registry;
  subscriptions?: Subscriptions;
  blobs?: BlobStore;
  mailer?: Mailer;
  now?: () => Date;
  /**
   * One of its consumers (alerts, the inbox's view, the delivery ledger's follower) crashed for
   * good. Default: `failService`, which `stopOnSignals` turns into a stop and exit 1.
   */
  onFatal?: (error: Error) => void;
}

export interface Notifier {
  /** Where the buyer inbox is served, e.g. http://127.0.0.1:8088/ */
  inboxUrl: string;
  port: number;
  /** Sends a buyer's digest now (the cron job calls this at their local time). */
  sendDigest(buyerId: string): Promise<number>;
  stop(): Promise<void>;
}

const UNKNOWN_BUYER =
  'unknown buyer id: use the id of a buyer in the subscriptions file (NOTIFIER_SUBSCRIPTIONS_FILE), or leave buyer out for every alert';

const ActionRequest = z.object({
  alertId: z.string().min(1).max(300),
  action: z.enum(['acknowledge', 'snooze', 'ordered']),
  buyer: z.string().min(1).max(200),
  snoozeHours: z
    .number()
    .positive()
    .max(24 * 90)
    .optional(),
  quantity: z.number().int().positive().max(10_000_000).optional(),
});

/** The image type of a blob by its magic bytes (shared/vision/image-type.ts); else opaque bytes. */
function imageType(bytes: Buffer): string {
  return sniffImageType(bytes) ?? 'application/octet-stream';
}

export async function startNotifier(config: NotifierConfig, deps: NotifierDeps = {}): Promise<Notifier> {
  const logger = deps.logger ?? createLogger('notifier', config.LOG_LEVEL);
  const registry = deps.registry ?? createRegistry('notifier');
  const now = deps.now ?? (() => new Date());
  const subscriptions = deps.subscriptions ?? (await loadSubscriptions(config.NOTIFIER_SUBSCRIPTIONS_FILE));
  requireSettings(config, subscriptions, { hasMailer: deps.mailer !== undefined });

  const kafka =
    deps.kafka ?? createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID }, logger);
  const blobs = deps.blobs ?? new FilesystemBlobStore(config.BLOB_STORE_DIR);
  const mailer =
    deps.mailer ?? (config.SMTP_URL ? createMailer(config.SMTP_URL, config.SMTP_FROM, blobs) : undefined);
  const topics = {
    alerts: topicName('reorder-alerts', config.TOPIC_NAMESPACE),
    actions: topicName('alert-actions', config.TOPIC_NAMESPACE),
    ledger: topicName('notifier-deliveries', config.TOPIC_NAMESPACE),
    deadLetters: topicName('dead-letters', config.TOPIC_NAMESPACE),
  };
  // Consumers leave their groups in parallel (each waits out its current long poll), then the
  // rest closes in reverse order: digests, mailer, the inbox server, last the shared producer.
  const closers: Array<() => Promise<void>> = [];
  const consumers: Array<() => Promise<void>> = [];
  const report = (error: unknown) =>
    logger.error({ error: (error as Error).message }, 'error while stopping');
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= closeAll());
  const closeAll = async () => {
    await Promise.all(consumers.map((close) => close().catch(report)));
    for (const close of [...closers].reverse()) await close().catch(report);
    logger.info('notifier stopped');
  };
  // For /readyz: set once the consumers run.
  let health = (): ConsumerHealth => ({ ready: false, reason: 'starting' });

  try {
    // The port first, before any Kafka work: a busy NOTIFIER_PORT fails here, not after the
    // followers and the alerts consumer joined their groups. /readyz says "starting" meanwhile.
    const state = new InboxState();
    let producer: Producer | undefined;
    const server = await startInbox({
      health: () => health(),
      config,
      state,
      subscriptions,
      blobs,
      registry,
      producer: () => producer,
      topics,
      now,
      logger,
    });
    closers.push(() => server.close());
    const port = (server.server.address() as AddressInfo).port;
    const inboxUrl = config.NOTIFIER_PUBLIC_URL ?? `http://${config.NOTIFIER_HOST}:${port}/`;

    await requireTopics(kafka, 'notifier', config.TOPIC_NAMESPACE, [
      'reorder-alerts',
      'alert-actions',
      'notifier-deliveries',
      'dead-letters',
    ]);
    const connected = await connectProducer(kafka);
    producer = connected;
    closers.unshift(async () => connected.disconnect());

    const fatal = deps.onFatal ? { onFatal: deps.onFatal } : {};
    const ledger = new DeliveryLedger(kafka, topics.ledger, connected, logger, { registry, ...fatal });
    await ledger.start();
    consumers.push(() => ledger.stop());

    const view = await followTopics(
      kafka,
      [topics.alerts, topics.actions],
      'notifier-inbox',
      (topic, message) => {
        try {
          if (topic === topics.alerts) state.applyAlert(decode(ReorderAlert, message.value));
          else state.applyAction(decode(AlertAction, message.value));
        } catch (error) {
          // The delivery consumer dead-letters bad alerts; the view just leaves them out.
          logger.debug(
            { topic, offset: message.offset, error: (error as Error).message },
            'inbox skips a record',
          );
        }
      },
      { registry, logger, ...fatal },
    );
    consumers.push(() => view.stop());

    const deliverer = new Deliverer({
      subscriptions,
      ledger,
      blobs,
      mailer,
      webhook: {
        secret: config.NOTIFIER_WEBHOOK_SECRET,
        attempts: config.NOTIFIER_WEBHOOK_ATTEMPTS,
        backoffMs: config.NOTIFIER_WEBHOOK_BACKOFF_MS,
        timeoutMs: config.NOTIFIER_WEBHOOK_TIMEOUT_MS,
      },
      inboxUrl,
      ...(config.NOTIFIER_CURRENCY ? { currency: config.NOTIFIER_CURRENCY } : {}),
      now,
      logger,
      registry,
    });
    const sendDigest = async (buyerId: string) => {
      const buyer = subscriptions.buyers.find((b) => b.id === buyerId);
      if (!buyer) throw new SubscriptionsError(`unknown buyer ${buyerId}`);
      // The digest lists what the inbox knows, so wait until the view has read the alerts log.
      await view.caughtUp;
      // The cards as this buyer's inbox shows them: what they acted on is left out of the digest.
      return deliverer.sendDigest(
        buyerId,
        state.cards(now(), (alert) => followers(subscriptions, alert).includes(buyer), buyer.id),
        now(),
      );
    };

    const runner = new ConsumerRunner({
      kafka,
      logger,
      registry,
      producer: connected,
      ...fatal,
      service: 'notifier',
      groupId: `${config.TOPIC_NAMESPACE}.${config.NOTIFIER_GROUP_ID}`,
      topics: [topics.alerts],
      deadLetterTopic: topics.deadLetters,
      maxBatchSize: 50,
      // One record at a time (a bad record is dead-lettered, a transient failure retried), with
      // the batch's heartbeat so slow receivers cannot outlast the group session.
      handleBatch: async (records, { heartbeat }) => {
        // The episode's earlier alerts come from the inbox's view of the whole alerts topic (this
        // group may have committed past them before a restart): wait until it has read it once.
        await view.caughtUp;
        const outcomes: Outcome[] = [];
        for (const record of records) {
          outcomes.push(
            await outcomeOf(async () => {
              const alert = decode(ReorderAlert, record.value);
              state.applyAlert(alert);
              await deliverer.deliver(alert, { heartbeat, episode: state.episode(alert.episodeId) });
              return [];
            }),
          );
        }
        return outcomes;
      },
    });
    await runner.start();
    consumers.push(() => runner.stop());
    // Every consumer here: the alerts, the inbox's view and the delivery ledger's follower (without
    // it, deliveries by other instances go unseen). Each also stops the process if kafkajs crashes
    // it for good (stopOnSignals).
    health = () =>
      combinedHealth([
        ['alerts', runner.health()],
        ['inbox', view.health()],
        ['ledger', ledger.health()],
      ]);

    const tasks: ScheduledTask[] = subscriptions.buyers
      .filter((b) => b.channels.digestAt && b.email)
      .map((buyer) =>
        cron.schedule(
          dailyCron(buyer.channels.digestAt!),
          async () => {
            try {
              await sendDigest(buyer.id);
            } catch (error) {
              logger.error({ buyer: buyer.id, error: (error as Error).message }, 'digest failed');
            }
          },
          { timezone: buyer.timeZone, name: `digest-${buyer.id}`, noOverlap: true },
        ),
      );
    closers.push(async () => {
      for (const task of tasks) await task.destroy();
    });
    if (mailer) closers.push(async () => mailer.close());

    logger.info({ inboxUrl, buyers: subscriptions.buyers.length, digests: tasks.length }, 'notifier started');
    return { inboxUrl, port, sendDigest, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface InboxContext {
  /** /readyz: the consumers run (joined their groups, not crashed, not stuck). */
  health: () => ConsumerHealth;
  config: NotifierConfig;
  state: InboxState;
  subscriptions: Subscriptions;
  blobs: BlobStore;
  registry: Registry;
  /** Connected once the service has checked its topics: actions wait for it (503 before). */
  producer: () => Producer | undefined;
  topics: { actions: string };
  now: () => Date;
  logger: Logger;
}

async function startInbox(context: InboxContext): Promise<FastifyInstance> {
  const { config, state, subscriptions, blobs, registry, producer, topics, now, logger, health } = context;
  const app = fastify({ bodyLimit: 16 * 1024 });
  const buyers = subscriptions.buyers.map((b) => ({ id: b.id, name: b.name }));
  const forBuyer = (buyerId: string | undefined) => {
    const buyer = subscriptions.buyers.find((b) => b.id === buyerId);
    return buyer ? (alert: ReorderAlert) => followers(subscriptions, alert).includes(buyer) : () => true;
  };

  app.addHook('onSend', async (_request, reply) => {
    reply.header(
      'content-security-policy',
      "default-src 'none'; img-src 'self' https: data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });

  // Like /api/alerts: an unknown buyer id is an error page, not everyone's alerts.
  app.get('/', async (request, reply) => {
    const buyer = (request.query as { buyer?: unknown }).buyer;
    const known = subscriptions.buyers.find((b) => b.id === buyer);
    if (buyer !== undefined && buyer !== '' && !known) {
      const html = renderInboxPage([], { buyers, now: now(), error: UNKNOWN_BUYER });
      return reply.code(400).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
    }
    const html = renderInboxPage(state.cards(now(), forBuyer(known?.id), known?.id), {
      buyers,
      ...(known ? { buyer: known.id, timeZone: known.timeZone } : {}),
      now: now(),
    });
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
  });
  app.get('/inbox.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(INBOX_CSS));
  app.get('/inbox.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').send(INBOX_JS),
  );

  // The inbox's cards as JSON: a buyer's (?buyer=<id>), or everyone's without the parameter, like
  // the page's "All buyers". An unknown id is an error, not everyone's alerts.
  app.get('/api/alerts', async (request, reply) => {
    const buyer = (request.query as { buyer?: unknown }).buyer;
    if (buyer !== undefined && buyer !== '' && !subscriptions.buyers.some((b) => b.id === buyer))
      return reply.code(400).send({ error: UNKNOWN_BUYER });
    const viewer = typeof buyer === 'string' && buyer ? buyer : undefined;
    const cards = state.cards(now(), forBuyer(viewer), viewer);
    return cards.map((card) => cardJson(card, config.NOTIFIER_PUBLIC_URL));
  });

  app.post('/api/actions', async (request, reply) => {
    const parsed = ActionRequest.safeParse(request.body);
    if (!parsed.success) return reply.code(400).send({ error: describeIssues(parsed.error) });
    const kafka = producer();
    if (!kafka) return reply.code(503).send({ error: 'the notifier is starting: try again in a moment' });
    const { alertId, action, buyer, snoozeHours, quantity } = parsed.data;
    const actor = subscriptions.buyers.find((b) => b.id === buyer);
    if (!actor) return reply.code(400).send({ error: `unknown buyer ${buyer}` });
    const alert = state.alert(alertId);
    if (!alert) return reply.code(404).send({ error: 'no such alert' });
    // Only a follower sees the alert in their inbox, so only a follower may act on it.
    if (followReasons(actor, alert).length === 0)
      return reply.code(403).send({
        error: `${buyer} does not follow this alert (its category, brand or regions): only the buyers who follow it can act on it`,
      });
    const at = now();
    const record: AlertAction = {
      actionId: randomUUID(),
      alertId,
      sku: alert.sku,
      action,
      buyer,
      at: at.toISOString(),
      ...(action === 'snooze'
        ? { snoozeUntil: new Date(at.getTime() + (snoozeHours ?? 24) * 3_600_000).toISOString() }
        : {}),
      ...(action === 'ordered' && quantity !== undefined ? { quantity } : {}),
    };
    // Recorded in Kafka first (acks=all): the page only shows what the log holds.
    await kafka.send({
      topic: topics.actions,
      acks: -1,
      messages: [{ key: alertId, value: encode(AlertAction, record) }],
    });
    state.applyAction(record);
    logger.info({ alertId, action, buyer }, 'buyer action recorded');
    return reply.code(201).send(record);
  });

  app.get('/blobs/sha256/:hex', async (request, reply) => {
    const { hex } = request.params as { hex: string };
    if (!/^[0-9a-f]{64}$/.test(hex)) return reply.code(400).send({ error: 'not a sha256 digest' });
    try {
      const bytes = await blobs.get(`sha256:${hex}`);
      // Content-addressed: the bytes behind a digest never change.
      return reply
        .type(imageType(bytes))
        .header('cache-control', 'public, max-age=31536000, immutable')
        .send(bytes);
    } catch (error) {
      if (error instanceof BlobNotFoundError) return reply.code(404).send({ error: 'no such blob' });
      throw error;
    }
  });

  app.get('/metrics', async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const { ready, reason } = health();
    return reply
      .code(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not ready', reason, alerts: state.size });
  });

  try {
    await app.listen({ host: config.NOTIFIER_HOST, port: config.NOTIFIER_PORT });
  } catch (error) {
    await app.close().catch(() => {});
    throw cannotListen(
      error as NodeJS.ErrnoException,
      'the buyer inbox',
      config.NOTIFIER_HOST,
      config.NOTIFIER_PORT,
      'NOTIFIER_PORT',
    );
  }
  return app;
}
