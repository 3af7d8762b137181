/**
 * `npm run bench <name> [args…]` runs test/bench/<name>.ts. Every benchmark measures a baseline in
 * the same run, reports ratios, and prints one JSON object on its last line.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchServersError } from './lib/servers.ts';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.replace(/\.ts$/, ''))
  .sort();
const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench <${available.join('|')}> [args…]\n`);
  process.exit(2);
}
const bench = (await import(`./${name}.ts`)) as { default: (args: string[]) => Promise<void> };
try {
  await bench.default(args);
} catch (error) {
  // No servers (or misnamed ones): say what to do, without a stack trace. Anything else is a bug.
  if (!(error instanceof BenchServersError)) throw error;
  process.stderr.write(`bench ${name}: ${error.message}\n`);
  process.exit(1);
}
