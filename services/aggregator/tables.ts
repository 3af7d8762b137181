/**
 * The two tables the alerts join, read in full from their compacted topics at start and followed
 * afterwards (like a Kafka Streams GlobalKTable): product facts from `catalogue-embeddings` (the
 * vectors are ignored) and stock from `inventory`.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { CatalogueEmbedding, InventoryLevel } from '../../shared/contracts/events.ts';
import { decode } from '../../shared/kafka/codec.ts';
import { type ConsumerHealth, ConsumerWatch, failService } from '../../shared/kafka/consumer-runner.ts';
import type { Logger } from '../../shared/observability/logger.ts';
import type { ProductFacts, TrendTables } from './trends.ts';

export class ReferenceTables implements TrendTables {
  private readonly products = new Map<string, ProductFacts>();
  private readonly stock = new Map<string, InventoryLevel>();
  private consumer: Consumer | undefined;
  private groupId = '';
  private watch: ConsumerWatch | undefined;
  private stopping = false;
  rejected = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly topics: { catalogue: string; inventory: string },
    private readonly logger: Logger,
    /** The service's group prefix (`<namespace>.<group id>`): an operator sees whose group it is. */
    private readonly groupPrefix: string,
  ) {}

  /** Whether the tables are followed (stale stock would go into every alert otherwise): /readyz. */
  health(): ConsumerHealth {
    return this.watch?.health() ?? { ready: false, reason: 'not started' };
  }

  product(sku: string): ProductFacts | undefined {
    return this.products.get(sku);
  }

  inventory(sku: string): InventoryLevel | undefined {
    return this.stock.get(sku);
  }

  /** Resolves once everything present at start has been read (or after `timeoutMs`, with a warning). */
  async start(timeoutMs = 60_000): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    const targets = new Map<string, bigint>();
    try {
      for (const topic of Object.values(this.topics)) {
        for (const o of await admin.fetchTopicOffsets(topic)) {
          if (BigInt(o.high) > BigInt(o.low)) targets.set(`${topic}/${o.partition}`, BigInt(o.high) - 1n);
        }
      }
    } finally {
      await admin.disconnect();
    }
    let caughtUp!: () => void;
    const ready = new Promise<void>((resolve) => {
      caughtUp = resolve;
    });
    if (targets.size === 0) caughtUp();
    // A throwaway group (kafkajs cannot read without one): every instance reads the whole table.
    // It commits nothing, so it never shows as lag, and stop() deletes it; after a kill the broker
    // drops it once empty, and its name says which namespace and service left it.
    this.groupId = `${this.groupPrefix}.tables-${randomUUID()}`;
    this.consumer = this.kafka.consumer({ groupId: this.groupId });
    // A crash kafkajs will not restart ends the service (a supervisor restarts it) rather than let
    // alerts quote stock the ERP has since changed.
    this.watch = new ConsumerWatch(this.consumer, {
      isStopping: () => this.stopping,
      onCrash: (error, restart) => {
        this.logger.error({ error: String(error), restart }, 'reference tables consumer crashed');
        if (!restart) failService(error);
      },
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: Object.values(this.topics), fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        this.apply(topic, message.key?.toString() ?? '', message.value);
        const target = targets.get(`${topic}/${partition}`);
        if (target !== undefined && BigInt(message.offset) >= target) {
          targets.delete(`${topic}/${partition}`);
          if (targets.size === 0) caughtUp();
        }
      },
    });
    const timedOut = await Promise.race([
      ready.then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), timeoutMs).unref()),
    ]);
    if (timedOut)
      this.logger.warn({ pending: [...targets.keys()] }, 'reference tables not fully read; going on');
    this.logger.info({ products: this.products.size, stock: this.stock.size }, 'reference tables loaded');
  }

  async stop(): Promise<void> {
    if (!this.consumer) return;
    this.stopping = true;
    await this.consumer.disconnect();
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      await admin.deleteGroups([this.groupId]);
    } catch (error) {
      // Best effort: without offsets the broker drops an empty group by itself.
      this.logger.warn({ group: this.groupId, error: String(error) }, 'could not delete the tables group');
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  private apply(topic: string, key: string, value: Buffer | null): void {
    try {
      if (topic === this.topics.inventory) {
        if (value === null) this.stock.delete(key);
        else this.stock.set(key, decode(InventoryLevel, value));
        return;
      }
      const sku = key.split('|')[0]!;
      if (value === null) {
        this.products.delete(sku);
        return;
      }
      const entry = decode(CatalogueEmbedding, value);
      this.products.set(entry.sku, {
        style: entry.style,
        colour: entry.colour,
        name: entry.name,
        category: entry.category,
        brand: entry.brand,
        price: entry.price,
      });
    } catch (error) {
      // A bad table row must not stop the aggregator; the producer's own DLQ handling owns it.
      // The row it replaces is no longer the truth: alerts say "no stock record" rather than
      // showing stock that the ERP has since changed.
      if (topic === this.topics.inventory) this.stock.delete(key);
      this.rejected++;
      this.logger.warn({ topic, key, error: String(error) }, 'ignoring an invalid reference-table record');
    }
  }
}
