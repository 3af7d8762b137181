/**
 * `trend-radar replay` and `topics apply` as an operator runs them, against the real broker: full
 * topic names, unknown names, a consumer group that never ran, dry-run wording and the broker's
 * own reason for refusing topics.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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
