/**
 * Integration tests run against real servers, chosen in this order:
 *  1. KAFKA_BROKERS and ELASTICSEARCH_URL from the environment;
 *  2. (temporary) the local stack on its default ports.
 */
import type { TestProject } from 'vitest/node';

export default async function setup(project: TestProject): Promise<void> {
  project.provide('kafkaBrokers', (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','));
  project.provide('elasticsearchUrl', process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9200');
}
