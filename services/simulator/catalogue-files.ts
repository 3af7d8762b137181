/** Makes sure a catalogue feed folder exists, rendering the synthetic one when asked to. */
import { access, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeSyntheticCatalogue } from './synthetic-catalogue.ts';

export async function ensureCatalogue(
  dir: string,
  renderIfMissing: boolean,
  log: (line: string) => void,
): Promise<void> {
  const present = await access(join(dir, 'catalogue.json')).then(
    () => true,
    () => false,
  );
  if (present) return;
  if (
    await stat(dir).then(
      (s) => s.isFile(),
      () => false,
    )
  )
    throw new Error(
      `${dir} is a file: a catalogue here is the feed's folder (the one holding catalogue.json and its images), e.g. ${dirname(dir)}`,
    );
  if (!renderIfMissing) throw new Error(`${dir} has no catalogue.json`);
  log(`rendering the synthetic catalogue into ${dir} (once)…`);
  const products = await writeSyntheticCatalogue(dir);
  log(`rendered ${products.length} products`);
}
