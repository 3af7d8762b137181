/**
 * `npx trend-radar …` runs the CLI in a child process: a supervisor's SIGTERM to the launcher must
 * reach the service, which stops cleanly, instead of killing the launcher alone and leaving the
 * service running (and its consumer group busy) as an orphan.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { topicSpec } from '../../../shared/contracts/topics.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';

const { kafkaBrokers } = integrationEnv();
// ingest refuses to start without its topics.
const namespace = uniqueNamespace('launcher');
beforeAll(async () => {
  const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'launcher-test' });
  await applyTopics(kafka, { namespace, specs: [topicSpec('uploads'), topicSpec('interactions')] });
});
const launcher = new URL('../../../bin/trend-radar.js', import.meta.url).pathname;

/** Pids of the running children of `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return children;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return condition();
}

/** The environment of an ingest on this test's topics, with a free port and its own blob store. */
const ingestEnv = (extra: Record<string, string> = {}) => ({
  ...process.env,
  ...extra,
  KAFKA_BROKERS: kafkaBrokers.join(','),
  TOPIC_NAMESPACE: namespace,
  INGEST_PORT: '0',
  BLOB_STORE_DIR: mkdtempSync(join(tmpdir(), 'launcher-blobs-')),
  LOG_LEVEL: 'info',
});

/** Everything a process and its children write, collected as it comes. */
function collectOutput(child: ChildProcessByStdio<null, Readable, Readable>): { text: string } {
  const output = { text: '' };
  child.stdout.on('data', (chunk) => {
    output.text += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output.text += chunk;
  });
  return output;
}

/** `ingest run` under the launcher; resolves on its exit code. */
function launchIngest(options: { detached?: boolean } = {}) {
  const child = spawn(process.execPath, [launcher, 'ingest', 'run'], {
    env: ingestEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
  });
  const output = collectOutput(child);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output, exited };
}

describe('the trend-radar launcher', () => {
  it('passes SIGTERM on: the service shuts down cleanly and its port closes', async () => {
    const { child, output, exited } = launchIngest();
    await waitFor(() => /ingest listening/.test(output.text), 60_000);
    const address = /"address":"(http:\/\/[^"]+)"/.exec(output.text)?.[1];
    expect(address, output.text).toBeDefined();
    expect((await fetch(`${address}/healthz`)).status).toBe(200);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output.text).toMatch(/shutting down/);
    expect(output.text).toMatch(/ingest stopped/);
    await expect(fetch(`${address}/healthz`)).rejects.toThrow();
  });

  it('stops the service once its parent is gone under npm (npx: npm exec → sh → launcher, sh killed)', async () => {
    // The chain of `npx trend-radar ingest run`: a SIGTERM to npx ends npm and its shell without
    // passing it on. Here the shell is killed outright; the launcher, re-parented, must stop the service.
    const shell = spawn(
      'sh',
      ['-c', `"${process.execPath}" "${launcher}" ingest run; echo "sh: launcher exited"`],
      {
        env: ingestEnv({ npm_command: 'exec' }),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    // The launcher and the service keep writing to these pipes after the shell is gone.
    const output = collectOutput(shell);
    await waitFor(() => /ingest listening/.test(output.text), 60_000);
    const address = /"address":"(http:\/\/[^"]+)"/.exec(output.text)?.[1];
    expect(address, output.text).toBeDefined();
    const [launcherPid] = childrenOf(shell.pid!);
    expect(launcherPid, 'the launcher under the shell').toBeDefined();
    const [servicePid] = childrenOf(launcherPid!);
    expect(servicePid, 'the service under the launcher').toBeDefined();

    shell.kill('SIGKILL');
    try {
      // Polled once a second; the service then drains as on SIGTERM.
      expect(await waitFor(() => !alive(servicePid!), 30_000), output.text).toBe(true);
      expect(await waitFor(() => !alive(launcherPid!), 5_000)).toBe(true);
    } finally {
      // Left running on failure: not to outlive the test.
      for (const pid of [servicePid!, launcherPid!]) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    expect(output.text).toMatch(/parent process \(\d+\) is gone; stopping the service/);
    expect(output.text).toMatch(/ingest stopped/);
    await expect(fetch(`${address}/healthz`)).rejects.toThrow();
  });

  it("drains on a supervisor's SIGTERM to the whole process group (it reaches the service twice)", async () => {
    // systemd's default: SIGTERM to every process of the unit. The service gets the kernel's and
    // the launcher's copy; it must drain once, not take the second as "stop now".
    const { child, output, exited } = launchIngest({ detached: true });
    await waitFor(() => /ingest listening/.test(output.text), 60_000);
    expect(output.text).toMatch(/ingest listening/);
    process.kill(-child.pid!, 'SIGTERM');
    expect(await exited, output.text).toBe(0);
    expect(output.text).toMatch(/ingest stopped/);
    expect(output.text).not.toMatch(/stopping now, without draining/);
  });
});
