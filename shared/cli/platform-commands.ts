import type { Command } from 'commander';

/** `stack` and `topics`: the platform itself. */
export function register(_program: Command): void {}
