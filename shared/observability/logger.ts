import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs to stdout (or to `destination`), one child per service. No default `level`: a service
 * passes its validated LOG_LEVEL, tests and tools their own.
 */
export function createLogger(service: string, level: string, destination?: string): Logger {
  return pino(
    { name: service, level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime },
    destination ? pino.destination({ dest: destination, mkdir: true, sync: false }) : undefined,
  );
}
