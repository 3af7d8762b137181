/**
 * Obtains the pinned Kafka and Elasticsearch artifacts from Maven Central once and caches them
 * outside the repository (under the stack home). Later runs only check that the cache is complete.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
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
  const kafkaJar = join(paths.kafkaLibs, `kafka_2.13-${KAFKA_VERSION}.jar`);
  if (!existsSync(kafkaJar)) {
    log(`fetching Apache Kafka ${KAFKA_VERSION} and its dependencies with Maven (once)…`);
    const staging = `${paths.kafkaLibs}.partial`;
    await rm(staging, { recursive: true, force: true });
    await run('mvn', [
      '-B',
      '-q',
      '--strict-checksums',
      '-f',
      pomPath,
      `${DEPENDENCY_PLUGIN}:copy-dependencies`,
      `-DoutputDirectory=${staging}`,
      '-DincludeScope=runtime',
    ]);
    await verifySha256(join(staging, `kafka_2.13-${KAFKA_VERSION}.jar`));
    await rename(staging, paths.kafkaLibs);
  }
  if (!existsSync(join(paths.elasticsearchHome, 'bin', 'elasticsearch'))) {
    log(`fetching Elasticsearch ${ELASTICSEARCH_VERSION} with Maven (once)…`);
    const downloads = join(cacheDir, 'downloads');
    await mkdir(downloads, { recursive: true });
    await run('mvn', [
      '-B',
      '-q',
      '--strict-checksums',
      '-f',
      pomPath,
      `${DEPENDENCY_PLUGIN}:copy`,
      `-Dartifact=${ELASTICSEARCH_ARTIFACT}`,
      `-DoutputDirectory=${downloads}`,
    ]);
    const zip = join(downloads, `elasticsearch-${ELASTICSEARCH_VERSION}.zip`);
    await verifySha256(zip);
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

async function verifySha256(file: string): Promise<void> {
  const name = file.split('/').pop() as keyof typeof PINNED_SHA256;
  const expected = PINNED_SHA256[name];
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  const actual = hash.digest('hex');
  if (actual !== expected)
    throw new Error(`checksum mismatch for ${name}: expected ${expected}, got ${actual}`);
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
