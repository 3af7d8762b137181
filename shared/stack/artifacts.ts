/**
 * Obtains the pinned Kafka and Elasticsearch artifacts from Maven Central once and caches them
 * outside the repository (under the stack home). Later runs check that the cache is complete and
 * that the pinned files match their SHA-256; a damaged one is deleted and fetched again, once.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  DEPENDENCY_PLUGIN,
  ELASTICSEARCH_ARTIFACT,
  ELASTICSEARCH_VERSION,
  KAFKA_VERSION,
  PINNED_SHA256,
} from './versions.ts';

export interface ArtifactPaths {
  kafkaLibs: string;
  elasticsearchHome: string;
}

export function artifactPaths(cacheDir: string): ArtifactPaths {
  return {
    kafkaLibs: join(cacheDir, `kafka-${KAFKA_VERSION}`, 'libs'),
    elasticsearchHome: join(cacheDir, `elasticsearch-${ELASTICSEARCH_VERSION}`),
  };
}

export async function ensureArtifacts(
  cacheDir: string,
  pomPath: string,
  log: (line: string) => void,
): Promise<ArtifactPaths> {
  const paths = artifactPaths(cacheDir);
  // Kafka's jars are checked against the repository's checksums (only the main one is pinned).
  // The Elasticsearch zip is pinned by SHA-256 below, a stronger check than the repository's own,
  // so its fetch does not also demand them: mirrors have been seen serving that zip without them.
  const maven = (
    checksums: '--strict-checksums' | '--lax-checksums',
    goal: string,
    ...properties: string[]
  ) => run('mvn', ['-B', '-q', checksums, '-f', pomPath, goal, ...properties]);
  const kafkaJarName = `kafka_2.13-${KAFKA_VERSION}.jar`;
  const kafkaJar = join(paths.kafkaLibs, kafkaJarName);
  // A libs folder only appears once its jar matched, but a disk can still damage it later.
  if (existsSync(kafkaJar)) {
    const actual = await sha256Of(kafkaJar);
    if (actual !== PINNED_SHA256[kafkaJarName]) {
      log(
        `the cached ${kafkaJarName} is damaged (${mismatch(kafkaJarName, actual)}): deleting ${paths.kafkaLibs} and fetching it again`,
      );
      await rm(paths.kafkaLibs, { recursive: true, force: true });
    }
  }
  if (!existsSync(kafkaJar)) {
    log(`fetching Apache Kafka ${KAFKA_VERSION} and its dependencies with Maven (once)…`);
    const staging = `${paths.kafkaLibs}.partial`;
    await rm(staging, { recursive: true, force: true });
    await maven(
      '--strict-checksums',
      `${DEPENDENCY_PLUGIN}:copy-dependencies`,
      `-DoutputDirectory=${staging}`,
      '-DincludeScope=runtime',
    );
    const actual = await sha256Of(join(staging, kafkaJarName));
    if (actual !== PINNED_SHA256[kafkaJarName]) {
      await rm(staging, { recursive: true, force: true });
      throw new Error(`${mismatch(kafkaJarName, actual)} after a fresh fetch; ${M2_HINT}`);
    }
    await rename(staging, paths.kafkaLibs);
  }
  if (!existsSync(join(paths.elasticsearchHome, 'bin', 'elasticsearch'))) {
    const zipName = `elasticsearch-${ELASTICSEARCH_VERSION}.zip` as const;
    const zip = await ensureVerifiedFile({
      file: join(cacheDir, 'downloads', zipName),
      sha256: PINNED_SHA256[zipName],
      log,
      fetchInto: async (dir) => {
        log(`fetching Elasticsearch ${ELASTICSEARCH_VERSION} with Maven (once)…`);
        await maven(
          '--lax-checksums',
          `${DEPENDENCY_PLUGIN}:copy`,
          `-Dartifact=${ELASTICSEARCH_ARTIFACT}`,
          `-DoutputDirectory=${dir}`,
        );
      },
    });
    const staging = join(cacheDir, 'es-unpack.partial');
    await rm(staging, { recursive: true, force: true });
    await run('unzip', ['-q', zip, '-d', staging]);
    const [top] = await readdir(staging);
    await rm(paths.elasticsearchHome, { recursive: true, force: true });
    await rename(join(staging, top!), paths.elasticsearchHome);
    await rm(staging, { recursive: true, force: true });
  }
  return paths;
}

const M2_HINT =
  "Maven's local repository (~/.m2/repository) may hold a damaged copy: delete that artifact's folder there and run `trend-radar stack up` again";

const mismatch = (name: string, actual: string) =>
  `checksum mismatch for ${name}: expected ${PINNED_SHA256[name as keyof typeof PINNED_SHA256] ?? '(not pinned)'}, got ${actual}`;

export interface VerifiedFile {
  /** Where the file is kept once its checksum matched. */
  file: string;
  sha256: string;
  /** Puts a fresh copy named like `file` into the (empty) folder given. */
  fetchInto: (dir: string) => Promise<void>;
  log: (line: string) => void;
}

/**
 * Returns `file` once its SHA-256 is `sha256`. A cached copy that does not match (a download cut
 * short, a damaged disk) is deleted and fetched again, once. A fetch lands in a temporary folder
 * and is moved into place only after its checksum matched, so an interrupted fetch leaves nothing
 * behind that a later run would trust.
 */
export async function ensureVerifiedFile({ file, sha256, fetchInto, log }: VerifiedFile): Promise<string> {
  const name = basename(file);
  if (existsSync(file)) {
    const actual = await sha256Of(file);
    if (actual === sha256) return file;
    log(
      `the cached ${file} is damaged (checksum mismatch: expected ${sha256}, got ${actual}): deleting it and fetching it again`,
    );
    await rm(file, { force: true });
  }
  const staging = join(dirname(file), `.${name}.partial-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    await fetchInto(staging);
    const fetched = join(staging, name);
    if (!existsSync(fetched)) throw new Error(`the fetch did not produce ${name}`);
    const actual = await sha256Of(fetched);
    if (actual !== sha256)
      throw new Error(
        `checksum mismatch for ${name} after a fresh fetch: expected ${sha256}, got ${actual}; ${M2_HINT}`,
      );
    await rename(fetched, file);
    return file;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.on('error', (error) => reject(new Error(`${command} could not start: ${error.message}`)));
    child.on('close', (code) =>
      code === 0
        ? resolve(output)
        : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output.slice(-3000)}`)),
    );
  });
}
