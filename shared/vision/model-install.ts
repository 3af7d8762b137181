/**
 * `trend-radar models pull`: installs the model a manifest names into a local folder (by default
 * models/installed, git-ignored), from a directory or an https URL, and refuses it unless its
 * sha256 is the manifest's. Services then point MODEL_FILE at the installed file, or the manifest
 * at it. Writes to a temporary name and renames, so a half-downloaded model is never used.
 */
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, request } from 'undici';
import { type LoadedManifest, ManifestError, sha256OfFile } from './manifest.ts';

export interface PullOptions {
  /** A directory holding the model file, or an https URL of the file (defaults to the manifest's sourceUrl). */
  from?: string;
  into: string;
  /** Largest accepted download. */
  maxBytes?: number;
}

export interface PullResult {
  path: string;
  sha256: string;
  bytes: number;
  alreadyInstalled: boolean;
}

export async function pullModel(loaded: LoadedManifest, options: PullOptions): Promise<PullResult> {
  const { manifest } = loaded;
  const fileName = basename(manifest.file);
  const target = resolve(options.into, `${manifest.id}-${manifest.sha256.slice(0, 12)}-${fileName}`);
  await mkdir(options.into, { recursive: true });
  if (await exists(target)) {
    const sha256 = await sha256OfFile(target);
    if (sha256 === manifest.sha256)
      return { path: target, sha256, bytes: (await stat(target)).size, alreadyInstalled: true };
  }
  const source = options.from ?? manifest.sourceUrl ?? loaded.modelPath;
  const temporary = `${target}.${process.pid}.partial`;
  try {
    if (/^https:\/\//i.test(source)) await download(source, temporary, options.maxBytes ?? 4 * 1024 ** 3);
    else if (/^[a-z]+:\/\//i.test(source))
      throw new ManifestError(`models are pulled from a directory or an https URL, not ${source}`);
    else {
      const info = await stat(source).catch(() => null);
      if (!info) throw new ManifestError(`no model at ${source}`);
      await copyFile(info.isDirectory() ? join(source, fileName) : source, temporary);
    }
    const sha256 = await sha256OfFile(temporary);
    if (sha256 !== manifest.sha256) {
      throw new ManifestError(
        `checksum mismatch for ${source}: got ${sha256}, the manifest expects ${manifest.sha256}`,
      );
    }
    await rename(temporary, target);
    return { path: target, sha256, bytes: (await stat(target)).size, alreadyInstalled: false };
  } finally {
    await rm(temporary, { force: true });
  }
}

async function download(url: string, path: string, maxBytes: number): Promise<void> {
  const agent = new Agent({ connect: { timeout: 10_000 }, headersTimeout: 30_000, bodyTimeout: 60_000 });
  try {
    const response = await request(url, { dispatcher: agent });
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new ManifestError(`${url} answered ${response.statusCode}`);
    }
    let bytes = 0;
    const limited = Readable.from(
      (async function* () {
        for await (const chunk of response.body) {
          bytes += (chunk as Buffer).length;
          if (bytes > maxBytes) throw new ManifestError(`${url} is larger than ${maxBytes} bytes`);
          yield chunk as Buffer;
        }
      })(),
    );
    await pipeline(limited, createWriteStream(path));
  } finally {
    await agent.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
