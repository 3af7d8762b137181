/**
 * prom-client registry per service plus a tiny HTTP endpoint: /metrics (Prometheus text),
 * /healthz (process alive and loop responsive) and /readyz (the service's own readiness probe).
 * Services that already run an HTTP server (ingest, notifier) mount the same handlers instead.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export interface HealthEndpoint {
  server: Server;
  port: number;
  close(): Promise<void>;
}

export async function serveHealth(
  registry: Registry,
  port: number,
  ready: () => Promise<boolean> | boolean = () => true,
  host = '127.0.0.1',
): Promise<HealthEndpoint> {
  const server = createServer(async (req, res) => {
    try {
      if (req.url === '/metrics') {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(await registry.metrics());
      } else if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"status":"ok"}');
      } else if (req.url === '/readyz') {
        const ok = await ready();
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: ok ? 'ready' : 'not ready' }));
      } else {
        res.writeHead(404).end();
      }
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    }
  });
  // A busy port is a setting to fix, not a crash: name METRICS_PORT (an unhandled 'error' event
  // would end the process with a stack trace).
  await new Promise<void>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) =>
      reject(cannotListen(error, '/metrics', host, port, 'METRICS_PORT'));
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    port: bound,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A port that cannot be bound is a setting to fix: the error names the setting, not a stack trace. */
export function cannotListen(
  error: NodeJS.ErrnoException,
  what: string,
  host: string,
  port: number,
  setting: string,
): Error {
  const why =
    error.code === 'EADDRINUSE'
      ? 'the port is in use (another service or instance?)'
      : error.code === 'EACCES'
        ? 'not permitted (ports below 1024 need privileges)'
        : error.message;
  return new Error(
    `cannot serve ${what} on ${host}:${port}: ${why}; set ${setting} (now ${port}) to a free port, or 0 to pick one`,
    { cause: error },
  );
}
