/** Appends a minted key's hashed entry to the JSON keys file, refusing duplicate names. */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type ApiKeyEntry, ApiKeyFile } from './api-keys.ts';

export async function appendKeyEntry(file: string, entry: ApiKeyEntry): Promise<void> {
  let entries: ApiKeyEntry[] = [];
  try {
    entries = ApiKeyFile.parse(JSON.parse(await readFile(file, 'utf8')));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (entries.some((e) => e.name === entry.name))
    throw new Error(`${file} already has a key named ${entry.name}`);
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify([...entries, entry], null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, file);
}
