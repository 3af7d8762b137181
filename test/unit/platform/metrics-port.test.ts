/**
 * A METRICS_PORT already in use is a setting to fix: serveHealth rejects naming the variable and
 * the port (the CLI prints that line), instead of an unhandled 'error' event crashing the service
 * with a stack trace.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { explainError } from '../../../shared/cli/errors.ts';
import { createRegistry, serveHealth } from '../../../shared/observability/metrics.ts';

describe('serveHealth on a busy METRICS_PORT', () => {
  it('rejects naming METRICS_PORT and the port, and the CLI prints just that', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const { port } = squatter.address() as { port: number };
    try {
      const error = await serveHealth(createRegistry('metrics-port-test'), port).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error).toBeInstanceOf(Error);
      expect(error!.message).toContain(`127.0.0.1:${port}`);
      expect(error!.message).toMatch(/in use/);
      expect(error!.message).toContain(`METRICS_PORT (now ${port})`);
      expect(explainError(error)).toBe(error!.message);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('serves on a free port (0 picks one)', async () => {
    const health = await serveHealth(createRegistry('metrics-port-test'), 0);
    try {
      expect(health.port).toBeGreaterThan(0);
      expect((await fetch(`http://127.0.0.1:${health.port}/healthz`)).status).toBe(200);
    } finally {
      await health.close();
    }
  });
});
