/**
 * The durable record of what each buyer was sent, on the compacted `notifier-deliveries` topic keyed
 * `${buyer}|${channel}|${alertId}`. Read back in full at start, so neither a restart nor a replay
 * of the alerts topic sends anyone the same alert twice on the same channel.
 */
import type { Kafka, Producer } from 'kafkajs';
import { NotificationDelivery } from '../../shared/contracts/events.ts';
import { decode, encode } from '../../shared/kafka/codec.ts';
import type { ConsumerHealth } from '../../shared/kafka/consumer-runner.ts';
import { type Follower, followTopics } from '../../shared/kafka/topic-follower.ts';
import type { Logger } from '../../shared/observability/logger.ts';
import type { Registry } from '../../shared/observability/metrics.ts';

export type DeliveryChannel = NotificationDelivery['channel'];

export const ledgerKey = (buyer: string, channel: DeliveryChannel, alertId: string) =>
  `${buyer}|${channel}|${alertId}`;

export class DeliveryLedger {
  private readonly delivered = new Set<string>();
  private follower: Follower | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly producer: Producer,
    private readonly logger: Logger,
    private readonly options: {
      /** Reports the follower's `trendradar_consumer_up{group="notifier-ledger"}` there. */
      registry?: Registry;
      /** The follower crashed for good (default: `failService`, the service exits 1). */
      onFatal?: (error: Error) => void;
    } = {},
  ) {}

  /** Loads every past delivery; keeps following so deliveries by other instances are seen too. */
  async start(): Promise<void> {
    this.follower = await followTopics(
      this.kafka,
      [this.topic],
      'notifier-ledger',
      (_topic, message) => {
        try {
          const entry = decode(NotificationDelivery, message.value);
          this.delivered.add(ledgerKey(entry.buyer, entry.channel, entry.alertId));
        } catch (error) {
          this.logger.warn(
            { offset: message.offset, error: (error as Error).message },
            'ignoring unreadable ledger entry',
          );
        }
      },
      { ...this.options, logger: this.logger },
    );
    await this.follower.caughtUp;
    this.logger.info({ deliveries: this.delivered.size }, 'delivery ledger loaded');
  }

  /**
   * Whether the follower's consumer runs (joined, not crashed nor stopped, fetching): without it,
   * deliveries by other instances go unseen and could be sent twice. For /readyz.
   */
  health(): ConsumerHealth {
    return this.follower?.health() ?? { ready: false, reason: 'not started' };
  }

  has(buyer: string, channel: DeliveryChannel, alertId: string): boolean {
    return this.delivered.has(ledgerKey(buyer, channel, alertId));
  }

  /** Written (acks=all) before the alert's offset is committed. */
  async record(buyer: string, channel: DeliveryChannel, alertId: string, at = new Date()): Promise<void> {
    const entry: NotificationDelivery = { buyer, channel, alertId, deliveredAt: at.toISOString() };
    const key = ledgerKey(buyer, channel, alertId);
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: [{ key, value: encode(NotificationDelivery, entry) }],
    });
    this.delivered.add(key);
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
  }
}
