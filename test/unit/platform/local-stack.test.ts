import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { reachableByOthers, summariseServerLog } from '../../../shared/stack/local-stack.ts';

describe('reachableByOthers: can Elasticsearch’s service user reach the stack home?', () => {
  const cleanup: string[] = [];
  afterAll(async () => {
    for (const dir of cleanup) {
      await chmod(dir, 0o755).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is true when every folder on the way may be traversed', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tr-stack-'));
    cleanup.push(root);
    await chmod(root, 0o755);
    const home = join(root, 'cache', 'trend-radar');
    await mkdir(home, { recursive: true, mode: 0o755 });
    expect(reachableByOthers(home)).toBe(true);
  });

  it('is false when one ancestor is private, as /root is', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tr-stack-'));
    cleanup.push(root);
    const home = join(root, 'cache', 'trend-radar');
    await mkdir(home, { recursive: true, mode: 0o755 });
    await chmod(root, 0o700);
    expect(reachableByOthers(home)).toBe(false);
  });

  it('judges a home that does not exist yet by the folders that do', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tr-stack-'));
    cleanup.push(root);
    await chmod(root, 0o700);
    expect(reachableByOthers(join(root, 'not', 'yet'))).toBe(false);
  });
});

describe('summariseServerLog: why a server failed, in one line of the CI log', () => {
  it('counts ERROR lines and quotes the first that took the server down', () => {
    const log = [
      '[2026-11-25 01:14:52,208] ERROR [ControllerApis nodeId=1] Unexpected error handling request',
      '[2026-11-25 01:23:32,235] INFO something else',
      'Exception in thread "client-metrics-reaper" java.lang.OutOfMemoryError: Java heap space',
      '[2026-11-25 01:23:33,946] ERROR Uncaught exception in thread',
    ].join('\n');
    expect(summariseServerLog(log)).toBe(
      '2 ERROR lines; it failed: Exception in thread "client-metrics-reaper" java.lang.OutOfMemoryError: Java heap space',
    );
  });

  it('does not mistake a JVM flag that names the error for the error', () => {
    const log = '[INFO ][o.e.b.Elasticsearch] JVM arguments [-XX:+HeapDumpOnOutOfMemoryError, -Xss1m]';
    expect(summariseServerLog(log)).toBe('0 ERROR lines');
  });
});
