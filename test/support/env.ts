/** What integration tests connect to: provided once per run by global-setup.ts. */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string[];
    elasticsearchUrl: string;
    /** Starts every namespace of this run, so the run can delete what it made (run-cleanup.ts). */
    runPrefix: string;
  }
}

export function integrationEnv(): { kafkaBrokers: string[]; elasticsearchUrl: string } {
  return { kafkaBrokers: inject('kafkaBrokers'), elasticsearchUrl: inject('elasticsearchUrl') };
}

/** A fresh topic namespace / index prefix so test files never see each other's data. */
export function uniqueNamespace(label: string): string {
  return `${inject('runPrefix')}-${label}-${randomBytes(4).toString('hex')}`;
}
