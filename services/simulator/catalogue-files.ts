/** Makes sure a catalogue feed folder exists, rendering the synthetic one when asked to. */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
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
  if (!renderIfMissing) throw new Error(`${dir} has no catalogue.json`);
  log(`rendering the synthetic catalogue into ${dir} (once)…`);
  const products = await writeSyntheticCatalogue(dir);
  log(`rendered ${products.length} products`);
}
