#!/usr/bin/env node
// Thin launcher so `npx trend-radar …` works without a build step: tsx runs the TypeScript CLI.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');
// The young generation that npm scripts get from .npmrc (node-options), also when this launcher
// is run directly: the aggregator's window state collects far less often with it.
const nodeOptions = process.env.NODE_OPTIONS ?? '';
const env = nodeOptions.includes('--max-semi-space-size')
  ? process.env
  : { ...process.env, NODE_OPTIONS: `${nodeOptions} --max-semi-space-size=64`.trim() };
const result = spawnSync(
  process.execPath,
  [tsxCli, join(root, 'shared/cli/main.ts'), ...process.argv.slice(2)],
  {
    stdio: 'inherit',
    env,
  },
);
process.exit(result.status ?? 1);
