/**
 * `trend-radar replay` and `topics apply` as an operator runs them, against the real broker: full
 * topic names, unknown names, a consumer group that never ran, dry-run wording and the broker's
 * own reason for refusing topics.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';
import { TOPICS } from '../../../shared/contracts/topics.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'replay-cli-test' });
const live = uniqueNamespace('cli');
const staging = uniqueNamespace('cli-staging');
const root = fileURLToPath(new URL('../../..', import.meta.url));
const uploads = TOPICS.filter((t) => t.id === 'uploads');

function cli(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'shared/cli/main.ts', ...args],
      {
        cwd: root,
        env: { ...process.env, KAFKA_BROKERS: kafkaBrokers.join(','), TOPIC_NAMESPACE: live, ...env },
        timeout: 60_000,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  await applyTopics(kafka, { namespace: live, specs: uploads });
  await applyTopics(kafka, { namespace: staging, specs: uploads });
});

describe('replay copy: topic names', () => {
  it('accepts a full broker name with --to-namespace (it used to be refused as a copy into itself)', async () => {
    const run = await cli([
      'replay',
      'copy',
      '--topic',
      `${live}.uploads.v1`,
      '--to-namespace',
      staging,
      '--from',
      'earliest',
      '--dry-run',
    ]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain(`copy ${live}.uploads.v1 → ${staging}.uploads.v1`);
    expect(run.stdout).toContain('dry run: nothing copied');
  });

  it('refuses an unknown name with the contract ids, and a missing source as missing', async () => {
    const unknown = await cli([
      'replay',
      'copy',
      '--topic',
      'nosuch',
      '--to-namespace',
      staging,
      '--from',
      'earliest',
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown topic "nosuch": give a contract id \(uploads, interactions/);
    const missing = await cli([
      'replay',
      'copy',
      '--topic',
      `${live}-gone.uploads.v1`,
      '--to-namespace',
      live,
      '--from',
      'earliest',
    ]);
    expect(missing.stderr).toContain(`source topic ${live}-gone.uploads.v1 does not exist`);
  });
});

describe('replay reset-group: a group that never ran', () => {
  it('is refused unless --create, so a typo does not pass for a reset', async () => {
    const typo = await cli([
      'replay',
      'reset-group',
      '--group',
      `${live}.embeder`,
      '--topic',
      'uploads',
      '--to',
      'earliest',
      '--yes',
    ]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain(`group ${live}.embeder has no committed offsets and no members — a typo?`);
    expect(typo.stderr).toContain('re-run with --create');
    const created = await cli([
      'replay',
      'reset-group',
      '--group',
      `${live}.new`,
      '--topic',
      'uploads',
      '--to',
      'earliest',
      '--create',
      '--dry-run',
    ]);
    expect(created.stderr).toBe('');
    expect(created.stdout).toContain(`note: ${live}.new is a new group (--create)`);
  });
});

describe('replay reset-group: a group with running members', () => {
  it('is refused, but a dry run prints the refusal as a note and succeeds', async () => {
    const group = `${live}.running`;
    const consumer = kafka.consumer({ groupId: group });
    await consumer.connect();
    try {
      const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
      await consumer.subscribe({ topic: `${live}.uploads.v1`, fromBeginning: true });
      await consumer.run({ eachMessage: async () => {} });
      await joined;
      const args = ['replay', 'reset-group', '--group', group, '--topic', 'uploads', '--to', 'earliest'];
      const dry = await cli([...args, '--dry-run']);
      expect(dry.stderr).toBe('');
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain(`reset group ${group} on ${live}.uploads.v1 to earliest`);
      expect(dry.stdout).toContain(
        `note: without --dry-run this would be refused now: group ${group} has 1 running member(s)`,
      );
      expect(dry.stdout).toContain('dry run: nothing changed');
      const real = await cli([...args, '--yes']);
      expect(real.code).toBe(1);
      expect(real.stderr).toContain(`group ${group} has 1 running member(s)`);
      expect(real.stderr).toContain('stop the service first');
    } finally {
      await consumer.disconnect();
    }
  });
});

describe('topics list', () => {
  const listed = `${live}-list`;

  it("shows each topic's retention as the broker has it, and what is missing or drifted", async () => {
    await applyTopics(kafka, {
      namespace: listed,
      specs: TOPICS.filter((t) => ['uploads', 'catalogue-embeddings', 'dead-letters'].includes(t.id)),
    });
    // dead-letters drifted from its contract (30 days) to 2 days.
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: kafkajs.ConfigResourceTypes.TOPIC,
            name: `${listed}.dead-letters.v1`,
            configEntries: [
              { name: 'cleanup.policy', value: 'delete' },
              { name: 'retention.ms', value: String(2 * 86_400_000) },
            ],
          },
        ],
      });
    } finally {
      await admin.disconnect();
    }
    const run = await cli(['topics', 'list'], { TOPIC_NAMESPACE: listed });
    expect(run.stderr).toBe('');
    const line = (id: string) => run.stdout.split('\n').find((l) => l.startsWith(`${listed}.${id}.v1 `));
    expect(line('uploads')).toMatch(/ partitions=6 retention=400 d {2}key=/);
    expect(line('catalogue-embeddings')).toMatch(/ partitions=3 retention=compact {2}key=/);
    expect(line('dead-letters')).toContain('retention=2 d (declared 30 d: trend-radar topics apply)  key=');
    expect(line('interactions')).toContain(
      'retention=400 d (declared; not on the broker: trend-radar topics apply)  key=',
    );
  });

  it('shows the declared retention, with a warning, when the broker cannot be reached', async () => {
    const run = await cli(['topics', 'list'], { KAFKA_BROKERS: '127.0.0.1:1' });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('warning: cannot reach the Kafka brokers KAFKA_BROKERS=127.0.0.1:1');
    expect(run.stderr).toContain('the retention shown is the declared one');
    expect(run.stdout).toContain(`${live}.uploads.v1`);
    expect(run.stdout).toMatch(/ retention=400 d \(declared\) {2}key=/);
  });
});

describe('topics apply', () => {
  it('says "would create" on a dry run', async () => {
    const run = await cli(['topics', 'apply', '--dry-run'], { TOPIC_NAMESPACE: `${live}-dry` });
    expect(run.stdout).toContain(`would create          ${live}-dry.uploads.v1`);
    expect(run.stdout).not.toMatch(/^created/m);
  });

  it("prints the broker's reason when the replication factor is more than the brokers", async () => {
    const run = await cli(['topics', 'apply', '--replication-factor', '50'], {
      TOPIC_NAMESPACE: `${live}-rf`,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Topic creation errors: INVALID_REPLICATION_FACTOR .* on 14 topics/);
    expect(run.stderr).toContain('lower --replication-factor');
  });
});
