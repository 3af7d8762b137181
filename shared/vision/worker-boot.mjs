// Entry of a vision worker thread (describer pool, catalogue index build). Workers start without
// the parent's loader flags, so the TypeScript loader (tsx) is registered here, in the worker,
// before the real entry (workerData.entry) is imported: the same file works under `tsx`, under
// vitest and from the CLI.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
