/**
 * The demo runs every service in one process. A standalone service that fails for good — a consumer
 * kafkajs crashed and will not restart (`failService`, which `stopOnSignals` turns into exit 1), or
 * one of the failures a service reports through its own `onFatal` (the aggregator's stages, the
 * embedder's model) — stops and exits 1 so that its supervisor restarts it. In the demo nobody
 * listened: the failed service's work stopped and the demo went on waiting for a pipeline that no
 * longer moved. The supervisor hears those failures, cuts short whatever the demo is waiting for
 * (`guard`), and stops every service it started (`stopAll`), in reverse order of start.
 */
import { onServiceFailure } from '../../shared/kafka/consumer-runner.ts';

/** A service of the demo failed for good: the demo stops its services and exits 1. */
export class DemoServiceFailed extends Error {
  override name = 'DemoServiceFailed';

  constructor(
    /** The service, when it reported the failure itself; otherwise a consumer's crash (`failService`). */
    readonly service: string | undefined,
    readonly failure: Error,
    logsDir?: string,
  ) {
    // No `cause`: the CLI prints this message as it is, not an explanation of the kafkajs error.
    super(
      `the demo stopped: ${service ? `the ${service}` : 'a service'} failed for good ` +
        `(${service ? '' : 'a consumer kafkajs crashed and will not restart: '}${describe(failure)}); ` +
        `the other services were stopped${logsDir ? `; service logs in ${logsDir}` : ''}`,
    );
  }
}

export class DemoSupervisor {
  private readonly stops: Array<() => Promise<void>> = [];
  private stopping: Promise<void> | undefined;
  private failed: DemoServiceFailed | undefined;
  private rejectOnFailure!: (error: DemoServiceFailed) => void;
  private readonly onFailure: Promise<never>;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly logsDir?: string,
    listen: (listener: (error: Error) => void) => () => void = onServiceFailure,
  ) {
    this.onFailure = new Promise<never>((_, reject) => {
      this.rejectOnFailure = reject;
    });
    // Observed through guard(); a failure while nothing is guarded must not be an unhandled rejection.
    this.onFailure.catch(() => {});
    this.unsubscribe = listen((error) => this.fail(undefined, error));
  }

  /** The failure that ended the demo, if one did. */
  get failure(): DemoServiceFailed | undefined {
    return this.failed;
  }

  /** An `onFatal` for a service that reports its own failures: the demo fails naming it. */
  onFatal(service: string): (error: Error) => void {
    return (error) => this.fail(service, error);
  }

  fail(service: string | undefined, error: Error): void {
    if (this.failed) return;
    this.failed = new DemoServiceFailed(service, error, this.logsDir);
    this.rejectOnFailure(this.failed);
  }

  /** `work`'s result, unless a service fails first: then that failure (`work` is left behind). */
  guard<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.onFailure]);
  }

  /**
   * A started service's stop. Services stop in reverse order of start (ingest, started last, first:
   * nothing new enters while the rest drains). One that starts after `stopAll` is stopped at once.
   */
  add(stop: () => Promise<void>): void {
    if (this.stopping) {
      void stop().catch(() => {});
      return;
    }
    this.stops.unshift(stop);
  }

  /** Stops every service once, in order; a stop that fails does not keep the others running. */
  stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      for (const stop of this.stops) await stop().catch(() => {});
    })();
    return this.stopping;
  }

  /** Stops listening for failures (the demo is over). */
  dispose(): void {
    this.unsubscribe();
  }
}

function describe(error: Error): string {
  return `${error.name}: ${error.message}`.replace(/\s+/g, ' ').trim();
}
