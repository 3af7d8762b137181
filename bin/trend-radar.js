#!/usr/bin/env node
// Thin launcher so `npx trend-radar …` works without a build step: Node runs the TypeScript CLI
// with tsx's loader, in one child process that gets this process's signals.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Resolved from here, not from the caller's folder, which may be anywhere.
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
// The young generation that npm scripts get from .npmrc (node-options), also when this launcher
// is run directly: the aggregator's window state collects far less often with it.
const nodeOptions = process.env.NODE_OPTIONS ?? '';
const env = nodeOptions.includes('--max-semi-space-size')
  ? process.env
  : { ...process.env, NODE_OPTIONS: `${nodeOptions} --max-semi-space-size=64`.trim() };
const child = spawn(
  process.execPath,
  ['--import', tsxLoader, join(root, 'shared/cli/main.ts'), ...process.argv.slice(2)],
  { stdio: 'inherit', env },
);
// A supervisor's SIGTERM must reach the service, which then finishes its batch, commits and leaves
// its consumer group; dying here alone would leave it running, orphaned. Ctrl-C already reaches
// the child (same process group): SIGINT is only kept from ending this process first. It is not
// passed on, since the service would get it twice and take the second as "stop now"; so a SIGINT
// sent to this process alone does nothing: send SIGTERM (or SIGINT to the whole process group).
let forwarded = false;
for (const signal of ['SIGTERM', 'SIGHUP'])
  process.on(signal, () => {
    forwarded = true;
    child.kill(signal);
  });
process.on('SIGINT', () => {});
// Under `npx trend-radar …` (npm exec, npm run) the parent is a shell that npm started: a SIGTERM
// to npx ends npm and that shell without passing it on, and this process is re-parented (to init
// or a subreaper) with the service still running. So under npm, a parent that went away stops the
// service as a SIGTERM would. Started otherwise (`node bin/trend-radar.js …`), a parent going away
// is how a script puts a service in the background (`setsid node bin/trend-radar.js … &`): kept.
if (process.env.npm_command) {
  const parent = process.ppid;
  const orphanWatch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(orphanWatch);
    if (forwarded) return;
    forwarded = true;
    child.kill('SIGTERM');
    // The parent's end of stderr may be gone too: a write error must not end this process first.
    process.stderr.on('error', () => {});
    console.error(`trend-radar: the parent process (${parent}) is gone; stopping the service (SIGTERM)`);
  }, 1_000).unref();
}
child.on('error', (error) => {
  console.error(`trend-radar: could not start Node: ${error.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  // Ended by a signal: end the same way, so the caller sees what happened.
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else process.exit(code ?? 1);
});
