import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON logs to stdout (or to `destination`), one child per service. */
export function createLogger(
  service: string,
  level = process.env.LOG_LEVEL ?? 'info',
  destination?: string,
): Logger {
  return pino(
    { name: service, level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime },
    destination ? pino.destination({ dest: destination, mkdir: true, sync: false }) : undefined,
  );
}
