/**
 * `npx trend-radar …` runs the CLI in a child process: a supervisor's SIGTERM to the launcher must
 * reach the service, which stops cleanly, instead of killing the launcher alone and leaving the
 * service running (and its consumer group busy) as an orphan.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';

const { kafkaBrokers } = integrationEnv();
const launcher = new URL('../../../bin/trend-radar.js', import.meta.url).pathname;

describe('the trend-radar launcher', () => {
  it('passes SIGTERM on: the service shuts down cleanly and its port closes', async () => {
    const child = spawn(process.execPath, [launcher, 'ingest', 'run'], {
      env: {
        ...process.env,
        KAFKA_BROKERS: kafkaBrokers.join(','),
        TOPIC_NAMESPACE: uniqueNamespace('launcher'),
        INGEST_PORT: '0',
        BLOB_STORE_DIR: mkdtempSync(join(tmpdir(), 'launcher-blobs-')),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!/ingest listening/.test(output) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const address = /"address":"(http:\/\/[^"]+)"/.exec(output)?.[1];
    expect(address, output).toBeDefined();
    expect((await fetch(`${address}/healthz`)).status).toBe(200);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toMatch(/shutting down/);
    expect(output).toMatch(/ingest stopped/);
    await expect(fetch(`${address}/healthz`)).rejects.toThrow();
  });
});
