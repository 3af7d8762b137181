/**
 * `trend-radar stack up|down|status`: a single-node Kafka broker (KRaft) and a single-node
 * Elasticsearch as local processes on loopback, with no Docker. A component whose port already
 * answers is reused, not started again; `down` stops only what `up` started (recorded in
 * state.json with the process ids); logs and data live under the stack home.
 */

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, openSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { chown, cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { userInfo } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, StackEnv } from '../config/env.ts';
import { ensureArtifacts, run } from './artifacts.ts';
import { ELASTICSEARCH_VERSION, KAFKA_VERSION } from './versions.ts';

export interface StackOptions {
  /** Artifacts cache, data and logs. Default `$TREND_RADAR_HOME` or ~/.cache/trend-radar. */
  home: string;
  kafkaPort: number;
  elasticsearchPort: number;
  kafkaHeap: string;
  elasticsearchHeap: string;
  log: (line: string) => void;
}

export type ComponentName = 'kafka' | 'elasticsearch';

interface ComponentState {
  pid: number;
  startedAt: string;
  address: string;
  logFile: string;
  /** The process's own stdout and stderr: where it says why it could not start at all. */
  stdoutFile?: string;
  /** Each log's size when the process started: what it wrote since is this run's. */
  logOffsets?: Record<string, number>;
  dataDir: string;
}

type StackState = Partial<Record<ComponentName, ComponentState>>;

export interface ComponentStatus {
  name: ComponentName;
  /**
   * What answers, as far as it can be told: Elasticsearch's own version; for Kafka the pinned one
   * when this stack runs it. Null when nothing answers or an unknown broker does.
   */
  version: string | null;
  address: string;
  answering: boolean;
  /** 'managed': started by `stack up`; 'external': something else answers on the port. */
  owner: 'managed' | 'external' | 'none';
  pid?: number;
  health?: string;
  logFile?: string;
  dataDir?: string;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The stack's settings, validated like every other setting (docs/configuration.md): blank means
 * unset, ports are 1–65535 less the second port each component takes, the home is absolute.
 * Throws a ConfigError naming each bad variable.
 */
export function stackOptionsFromEnv(env = process.env, log: (line: string) => void = () => {}): StackOptions {
  const config = loadConfig(StackEnv, env);
  return {
    home: config.TREND_RADAR_HOME,
    kafkaPort: config.STACK_KAFKA_PORT,
    elasticsearchPort: config.STACK_ELASTICSEARCH_PORT,
    kafkaHeap: config.STACK_KAFKA_HEAP,
    elasticsearchHeap: config.STACK_ELASTICSEARCH_HEAP,
    log,
  };
}

export class LocalStack {
  constructor(private readonly options: StackOptions) {}

  get kafkaBrokers(): string {
    return `127.0.0.1:${this.options.kafkaPort}`;
  }

  get elasticsearchUrl(): string {
    return `http://127.0.0.1:${this.options.elasticsearchPort}`;
  }

  private get stateFile(): string {
    return join(
      this.options.home,
      'stack',
      `state-${this.options.kafkaPort}-${this.options.elasticsearchPort}.json`,
    );
  }

  /**
   * Starts whatever is not already answering and waits until both are healthy. Returns what it
   * started. `freshData` empties the data folder of each component this call starts (never of one
   * it reuses): for a test run that owns its servers, so topics and indices of earlier runs cannot
   * pile up in the broker's heap.
   */
  async up({ timeoutMs = 180_000, freshData = false } = {}): Promise<ComponentName[]> {
    const { log } = this.options;
    const state = await this.readState();
    const started: ComponentName[] = [];
    const kafkaUp = await this.kafkaAnswers();
    const esUp = await this.elasticsearchHealth();
    if (kafkaUp) log(`kafka: reusing the broker already answering at ${this.kafkaBrokers}`);
    if (esUp) log(`elasticsearch: reusing the node already answering at ${this.elasticsearchUrl}`);
    if (kafkaUp && esUp) return started;

    // A port held by another program makes the server exit after a page of shutdown noise: say
    // which port and which setting before starting (or downloading) anything.
    const toStart = [...(esUp ? [] : ['elasticsearch' as const]), ...(kafkaUp ? [] : ['kafka' as const])];
    const busy = await this.busyPorts(toStart, state);
    if (busy.length > 0) throw new Error(busy.join('\n'));

    const paths = await ensureArtifacts(
      join(this.options.home, 'artifacts'),
      join(repoRoot, 'infra/stack/pom.xml'),
      log,
    );
    if (!esUp) {
      state.elasticsearch = await this.startElasticsearch(paths.elasticsearchHome, freshData);
      started.push('elasticsearch');
    }
    if (!kafkaUp) {
      state.kafka = await this.startKafka(paths.kafkaLibs, freshData);
      started.push('kafka');
    }
    await this.writeState(state);

    const deadline = Date.now() + timeoutMs;
    for (const name of started) {
      log(`${name}: waiting until healthy…`);
      while (!(name === 'kafka' ? await this.kafkaAnswers() : await this.elasticsearchHealth())) {
        const component = state[name]!;
        if (!isAlive(component.pid)) throw new Error(this.startupFailure(name, component));
        if (Date.now() > deadline)
          throw new Error(`${name} not healthy after ${timeoutMs / 1000}s; see ${component.logFile}`);
        await sleep(500);
      }
      log(`${name}: up at ${name === 'kafka' ? this.kafkaBrokers : this.elasticsearchUrl}`);
    }
    return started;
  }

  /** One line per port of `names` that cannot be bound, naming the setting that chose it. */
  private async busyPorts(names: readonly ComponentName[], state: StackState): Promise<string[]> {
    const problems: string[] = [];
    for (const name of names) {
      const managed = state[name];
      const ours =
        managed && isAlive(managed.pid) && ownsProcess(managed.pid, this.options.home, managed)
          ? managed.pid
          : undefined;
      for (const { port, setting } of componentPorts(name, this.options)) {
        const code = await bindProblem(port);
        if (code) problems.push(busyPortMessage(name, port, setting, code, ours));
      }
    }
    return problems;
  }

  /** Why a server exited while starting: the line of its logs that says so, and where they are. */
  private startupFailure(name: ComponentName, component: ComponentState): string {
    const files = [component.logFile, ...(component.stdoutFile ? [component.stdoutFile] : [])];
    const written = files.map((file) => writtenSince(file, component.logOffsets?.[file] ?? 0)).join('\n');
    const cause = startupCause(written);
    const where = `logs: ${files.join(' and ')}`;
    if (!cause) return `${name} exited during start-up; ${where}:\n${lastLines(written, 10)}`;
    const hint = BIND_FAILURE.test(cause)
      ? `\n  a port is taken by another program: choose free ports with ${portSettings(name)}`
      : '';
    return `${name} exited during start-up: ${cause}${hint}\n  ${where}`;
  }

  /** Stops only the processes `up` started, gracefully first. */
  async down(only?: ComponentName[]): Promise<ComponentName[]> {
    const state = await this.readState();
    const stopped: ComponentName[] = [];
    for (const name of ['kafka', 'elasticsearch'] as const) {
      const component = state[name];
      if (!component || (only && !only.includes(name))) continue;
      if (isAlive(component.pid) && ownsProcess(component.pid, this.options.home, component)) {
        await stopProcess(component.pid);
        this.options.log(`${name}: stopped (pid ${component.pid})`);
        stopped.push(name);
      }
      delete state[name];
    }
    await this.writeState(state);
    return stopped;
  }

  /**
   * One line per component named: how many ERROR lines its log holds, and the first sign of a
   * failure that takes a server down (heap or disk exhausted), so a CI log says why tests failed.
   */
  async errorSummary(names: ComponentName[]): Promise<string[]> {
    const state = await this.readState();
    return names.flatMap((name) => {
      const component = state[name];
      if (!component) return [];
      const written = [component.logFile, component.stdoutFile]
        .map((file) => (file ? writtenSince(file, component.logOffsets?.[file] ?? 0) : ''))
        .join('\n');
      return [`${name}: ${summariseServerLog(written)} (${component.logFile})`];
    });
  }

  async status(): Promise<ComponentStatus[]> {
    const state = await this.readState();
    const kafkaAnswering = await this.kafkaAnswers();
    const esHealth = await this.elasticsearchHealth();
    const esVersion = esHealth === undefined ? null : await this.elasticsearchVersion();
    const describe = (
      name: ComponentName,
      answering: boolean,
      version: string | null,
      address: string,
      health?: string,
    ) => {
      const managed = state[name];
      const alive = managed && isAlive(managed.pid) && ownsProcess(managed.pid, this.options.home, managed);
      return {
        name,
        version: name === 'kafka' ? (alive && answering ? version : null) : version,
        address,
        answering,
        owner: alive ? 'managed' : answering ? 'external' : 'none',
        ...(alive ? { pid: managed.pid, logFile: managed.logFile, dataDir: managed.dataDir } : {}),
        ...(health ? { health } : {}),
      } satisfies ComponentStatus;
    };
    return [
      describe(
        'kafka',
        kafkaAnswering,
        KAFKA_VERSION,
        this.kafkaBrokers,
        kafkaAnswering ? 'accepting connections' : undefined,
      ),
      describe('elasticsearch', esHealth !== undefined, esVersion, this.elasticsearchUrl, esHealth),
    ];
  }

  private async startKafka(libs: string, freshData: boolean): Promise<ComponentState> {
    const dir = join(this.options.home, 'stack', `kafka-${this.options.kafkaPort}`);
    const dataDir = join(dir, 'data');
    if (freshData) await rm(dataDir, { recursive: true, force: true });
    const logFile = join(dir, 'logs', 'kafka.log');
    await mkdir(dirname(logFile), { recursive: true });
    const controllerPort = this.options.kafkaPort + 1;
    const properties = join(dir, 'server.properties');
    await writeFile(
      properties,
      [
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
        `listeners=PLAINTEXT://127.0.0.1:${this.options.kafkaPort},CONTROLLER://127.0.0.1:${controllerPort}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${this.options.kafkaPort}`,
        'controller.listener.names=CONTROLLER',
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
        `log.dirs=${dataDir}`,
        // One broker: internal topics cannot be replicated.
        'offsets.topic.replication.factor=1',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        // Tests and the demo join groups often; do not wait 3 s for more members.
        'group.initial.rebalance.delay.ms=0',
        // Topics come from `trend-radar topics apply`, never from a typo.
        'auto.create.topics.enable=false',
        'log.retention.check.interval.ms=60000',
        '',
      ].join('\n'),
    );
    const log4j = join(dir, 'log4j.properties');
    await writeFile(
      log4j,
      [
        'log4j.rootLogger=INFO, file',
        'log4j.appender.file=org.apache.log4j.RollingFileAppender',
        `log4j.appender.file.File=${logFile}`,
        'log4j.appender.file.MaxFileSize=20MB',
        'log4j.appender.file.MaxBackupIndex=3',
        'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
        'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
        'log4j.logger.kafka.request.logger=WARN',
        'log4j.logger.state.change.logger=WARN',
        '',
      ].join('\n'),
    );
    const classpath = `${libs}/*`;
    if (!existsSync(join(dataDir, 'meta.properties'))) {
      // The cluster id is a UUID in URL-safe base64 without padding, as `kafka-storage random-uuid` makes.
      const clusterId = randomBytes(16).toString('base64url');
      await run('java', [
        '-cp',
        classpath,
        `-Dlog4j.configuration=file:${log4j}`,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId,
        '-c',
        properties,
      ]);
    }
    this.options.log(`kafka: starting ${KAFKA_VERSION} (KRaft) on ${this.kafkaBrokers}, log ${logFile}`);
    const stdoutFile = join(dir, 'logs', 'kafka.stdout');
    const logOffsets = sizesOf([logFile, stdoutFile]);
    const pid = spawnDetached(
      'java',
      [
        `-Xms${this.options.kafkaHeap}`,
        `-Xmx${this.options.kafkaHeap}`,
        '-XX:+UseG1GC',
        `-Dtrendradar.stack=${this.options.home}`,
        `-Dlog4j.configuration=file:${log4j}`,
        '-cp',
        classpath,
        'kafka.Kafka',
        properties,
      ],
      stdoutFile,
    );
    return {
      pid,
      startedAt: new Date().toISOString(),
      address: this.kafkaBrokers,
      logFile,
      stdoutFile,
      logOffsets,
      dataDir,
    };
  }

  private async startElasticsearch(distribution: string, freshData: boolean): Promise<ComponentState> {
    // Elasticsearch refuses to run as root, so as root it runs as an unprivileged system user. That
    // user must reach the distribution and the instance folder, and the stack home often cannot be
    // reached (~/.cache under /root, mode 700): then both live under a folder of the service user.
    const asRoot = userInfo().uid === 0;
    const serviceUser = asRoot ? await ensureServiceUser() : undefined;
    const serviceRoot =
      serviceUser && !reachableByOthers(this.options.home)
        ? join(SERVICE_USER_ROOT, createHash('sha256').update(this.options.home).digest('hex').slice(0, 12))
        : this.options.home;
    const esHome =
      serviceRoot === this.options.home
        ? distribution
        : await mirrorDistribution(distribution, join(SERVICE_USER_ROOT, basename(distribution)));
    const dir = join(serviceRoot, 'stack', `elasticsearch-${this.options.elasticsearchPort}`);
    const dataDir = join(dir, 'data');
    const logsDir = join(dir, 'logs');
    const configDir = join(dir, 'config');
    if (freshData) await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { recursive: true });
    await mkdir(logsDir, { recursive: true });
    await mkdir(configDir, { recursive: true });
    // A per-instance config directory keeps the cached distribution pristine and shareable.
    for (const file of ['jvm.options', 'log4j2.properties']) {
      await writeFile(join(configDir, file), await readFile(join(esHome, 'config', file)));
    }
    await mkdir(join(configDir, 'jvm.options.d'), { recursive: true });
    await writeFile(
      join(configDir, 'elasticsearch.yml'),
      [
        'cluster.name: trend-radar-local',
        'node.name: trend-radar-local-1',
        'discovery.type: single-node',
        'network.host: 127.0.0.1',
        `http.port: ${this.options.elasticsearchPort}`,
        `transport.port: ${this.options.elasticsearchPort + 100}`,
        `path.data: ${dataDir}`,
        `path.logs: ${logsDir}`,
        // Loopback only, for development and tests; production clusters keep security on.
        'xpack.security.enabled: false',
        'xpack.security.enrollment.enabled: false',
        // A laptop disk is often fuller than the defaults allow; do not go read-only at 85%.
        'cluster.routing.allocation.disk.threshold_enabled: false',
        'action.destructive_requires_name: false',
        '',
      ].join('\n'),
    );
    const javaHome = dirname(dirname(readLinkJava()));
    const env = {
      ...process.env,
      ES_JAVA_HOME: javaHome,
      ES_PATH_CONF: configDir,
      ES_JAVA_OPTS: `-Xms${this.options.elasticsearchHeap} -Xmx${this.options.elasticsearchHeap} -Dtrendradar.stack=${this.options.home}`,
    };
    let command = join(esHome, 'bin', 'elasticsearch');
    let args: string[] = [];
    if (serviceUser) {
      const user = serviceUser;
      for (const path of [dir, dataDir, logsDir, configDir, join(configDir, 'jvm.options.d')])
        await chown(path, user.uid, user.gid);
      for (const file of ['jvm.options', 'log4j2.properties', 'elasticsearch.yml'])
        await chown(join(configDir, file), user.uid, user.gid);
      await run('chmod', ['-R', 'o+rX', esHome]);
      args = [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', command];
      command = 'setpriv';
    }
    this.options.log(
      `elasticsearch: starting ${ELASTICSEARCH_VERSION} on ${this.elasticsearchUrl}, logs in ${logsDir}`,
    );
    const logFile = join(logsDir, 'trend-radar-local.log');
    const stdoutFile = join(logsDir, 'elasticsearch.stdout');
    const logOffsets = sizesOf([logFile, stdoutFile]);
    const pid = spawnDetached(command, args, stdoutFile, env);
    return {
      pid,
      startedAt: new Date().toISOString(),
      address: this.elasticsearchUrl,
      logFile,
      stdoutFile,
      logOffsets,
      dataDir,
    };
  }

  private kafkaAnswers(): Promise<boolean> {
    return new Promise((resolvePromise) => {
      const socket = createConnection({ host: '127.0.0.1', port: this.options.kafkaPort });
      const done = (ok: boolean) => {
        socket.destroy();
        resolvePromise(ok);
      };
      socket.setTimeout(1_000, () => done(false));
      socket.once('error', () => done(false));
      // Something that is not a broker may hang up without a word; without this the promise never
      // settled and, with nothing else pending, the process exited 0 in silence.
      socket.once('close', () => done(false));
      // ApiVersions v0 request: a real broker answers, a random TCP listener does not.
      socket.once('connect', () => {
        const clientId = Buffer.from('trend-radar-probe');
        const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
        body.writeInt16BE(18, 0); // ApiVersions
        body.writeInt16BE(0, 2);
        body.writeInt32BE(1, 4);
        body.writeInt16BE(clientId.length, 8);
        clientId.copy(body, 10);
        const size = Buffer.alloc(4);
        size.writeInt32BE(body.length);
        socket.write(Buffer.concat([size, body]));
      });
      socket.once('data', (data) => done(data.length >= 8 && data.readInt32BE(4) === 1));
    });
  }

  /** The version the node reports, or null. */
  private async elasticsearchVersion(): Promise<string | null> {
    try {
      // Not `GET /`: this distribution (integ-test-zip) does not serve it.
      const response = await fetch(`${this.elasticsearchUrl}/_nodes/_local?filter_path=nodes.*.version`, {
        signal: AbortSignal.timeout(2_000),
      });
      const body = (await response.json()) as { nodes?: Record<string, { version?: string }> };
      return Object.values(body.nodes ?? {})[0]?.version ?? null;
    } catch {
      return null;
    }
  }

  /** Cluster health colour, or undefined when nothing answers. */
  private async elasticsearchHealth(): Promise<string | undefined> {
    try {
      const response = await fetch(`${this.elasticsearchUrl}/_cluster/health`, {
        signal: AbortSignal.timeout(2_000),
      });
      if (!response.ok) return undefined;
      const health = (await response.json()) as { status: string };
      return health.status === 'red' ? undefined : health.status;
    } catch {
      return undefined;
    }
  }

  private async readState(): Promise<StackState> {
    try {
      return JSON.parse(await readFile(this.stateFile, 'utf8')) as StackState;
    } catch {
      return {};
    }
  }

  private async writeState(state: StackState): Promise<void> {
    await mkdir(dirname(this.stateFile), { recursive: true });
    await writeFile(this.stateFile, `${JSON.stringify(state, null, 2)}\n`);
  }
}

function spawnDetached(
  command: string,
  args: string[],
  stdoutFile: string,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const out = openSync(stdoutFile, 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', out, out], env });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  return child.pid;
}

/** How many ERROR lines a server wrote, and the first line that says it went down, if any. */
export function summariseServerLog(text: string): string {
  const lines = text.split('\n');
  const errors = lines.filter((line) => /\bERROR\b/.test(line)).length;
  const fatal = lines.find((line) => FATAL_SERVER_PROBLEM.test(line));
  return `${errors} ERROR lines` + (fatal ? `; it failed: ${fatal.trim().slice(0, 300)}` : '');
}

const FATAL_SERVER_PROBLEM = /java\.lang\.OutOfMemoryError|No space left on device|\bFATAL\b|Halting Kafka/;
const BIND_FAILURE = /Address already in use|BindException|failed to bind/i;

/**
 * The line of a server's start-up output that says why it stopped: a port it could not bind
 * first, then a fatal problem, then the first ERROR line, then the first exception.
 */
export function startupCause(text: string): string | undefined {
  const lines = text.split('\n').map((line) => line.trim());
  const line =
    lines.find((l) => BIND_FAILURE.test(l)) ??
    lines.find((l) => FATAL_SERVER_PROBLEM.test(l)) ??
    lines.find((l) => /\bERROR\b/.test(l)) ??
    // Not from an INFO line: the JVM flags Elasticsearch logs name HeapDumpOnOutOfMemoryError.
    lines.find((l) => /\w(Exception|Error)\b/.test(l) && !/\b(INFO|DEBUG|TRACE)\b/.test(l));
  return line?.slice(0, 400);
}

/** The ports a component listens on and the setting that chooses each. */
export function componentPorts(
  name: ComponentName,
  options: Pick<StackOptions, 'kafkaPort' | 'elasticsearchPort'>,
): Array<{ port: number; setting: string }> {
  return name === 'kafka'
    ? [
        { port: options.kafkaPort, setting: 'STACK_KAFKA_PORT' },
        { port: options.kafkaPort + 1, setting: 'STACK_KAFKA_PORT + 1, the KRaft controller' },
      ]
    : [
        { port: options.elasticsearchPort, setting: 'STACK_ELASTICSEARCH_PORT' },
        { port: options.elasticsearchPort + 100, setting: 'STACK_ELASTICSEARCH_PORT + 100, the transport' },
      ];
}

const portSettings = (name: ComponentName) =>
  name === 'kafka' ? 'STACK_KAFKA_PORT' : 'STACK_ELASTICSEARCH_PORT';

/** Why `stack up` cannot start `name` on `port`, in one line that names the setting to change. */
export function busyPortMessage(
  name: ComponentName,
  port: number,
  setting: string,
  code: string,
  managedPid?: number,
): string {
  const server = name === 'kafka' ? 'Kafka broker' : 'healthy Elasticsearch node';
  if (code !== 'EADDRINUSE')
    return `${name}: cannot listen on 127.0.0.1:${port} (${setting}): ${code}; choose another port with ${portSettings(name)}`;
  if (managedPid !== undefined)
    return (
      `${name}: port ${port} (${setting}) is held by the ${name} that \`stack up\` started earlier (pid ${managedPid}), ` +
      `which does not answer as a ${server}: run \`trend-radar stack down\` with the same settings, then up again`
    );
  return (
    `${name}: port ${port} on 127.0.0.1 (${setting}) is in use by another program, not a ${server}: ` +
    `stop it, or choose free ports with ${portSettings(name)}`
  );
}

/** undefined when 127.0.0.1:`port` can be listened on, else the error code (EADDRINUSE, EACCES…). */
export function bindProblem(port: number): Promise<string | undefined> {
  return new Promise((resolvePromise) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolvePromise(error.code ?? error.message));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () =>
      server.close(() => resolvePromise(undefined)),
    );
  });
}

const lastLines = (text: string, count: number) =>
  text.trim().split('\n').slice(-count).join('\n') || '(nothing written)';

function sizesOf(files: string[]): Record<string, number> {
  return Object.fromEntries(files.map((file) => [file, existsSync(file) ? statSync(file).size : 0]));
}

/** What `file` holds past `offset`, or all of it when it was rolled over since (it got shorter). */
function writtenSince(file: string, offset: number): string {
  try {
    const text = readFileSync(file);
    return text.subarray(text.length >= offset ? offset : 0).toString('utf8');
  } catch {
    return '';
  }
}

/** Where Elasticsearch's files live when the stack home is out of the service user's reach. */
const SERVICE_USER_ROOT = '/var/lib/trend-radar';

/** True when every folder on the way to `path` may be traversed by any user. */
export function reachableByOthers(path: string): boolean {
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) return false;
    if (dir === dirname(dir)) return true;
  }
}

/** Copies the cached distribution to `target` once (a marker file makes a half copy redo). */
async function mirrorDistribution(source: string, target: string): Promise<string> {
  const marker = join(target, '.trend-radar-complete');
  if (existsSync(marker)) return target;
  await rm(target, { recursive: true, force: true });
  await mkdir(dirname(target), { recursive: true, mode: 0o755 });
  await cp(source, target, { recursive: true });
  await writeFile(marker, `${source}\n`);
  return target;
}

async function ensureServiceUser(): Promise<{ uid: number; gid: number }> {
  const name = 'trendradar';
  const lookup = async () => {
    const passwd = await readFile('/etc/passwd', 'utf8');
    const line = passwd.split('\n').find((l) => l.startsWith(`${name}:`));
    if (!line) return undefined;
    const [, , uid, gid] = line.split(':');
    return { uid: Number(uid), gid: Number(gid) };
  };
  const existing = await lookup();
  if (existing) return existing;
  await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
  const created = await lookup();
  if (!created) throw new Error(`could not create the ${name} user that Elasticsearch runs as`);
  return created;
}

function readLinkJava(): string {
  // `java` on PATH is usually a chain of symlinks into the JDK; ES wants the JDK home.
  const javaHome = process.env.JAVA_HOME;
  if (javaHome && existsSync(join(javaHome, 'bin', 'java'))) return join(javaHome, 'bin', 'java');
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = join(dir, 'java');
    if (existsSync(candidate)) return realpathSync(candidate);
  }
  throw new Error('java not found on PATH; Java 17 is needed to run Kafka and Elasticsearch');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Guards against a recycled pid: the process must name the stack home or the component's folder. */
function ownsProcess(pid: number, home: string, component: ComponentState): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(home) || cmdline.includes(dirname(component.dataDir));
  } catch {
    return false;
  }
}

async function stopProcess(pid: number): Promise<void> {
  const group = -pid;
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(group, s);
    } catch {
      try {
        process.kill(pid, s);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + 30_000;
  while (isAlive(pid) && Date.now() < deadline) await sleep(250);
  if (isAlive(pid)) signal('SIGKILL');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
