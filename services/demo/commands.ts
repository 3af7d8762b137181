import type { Command } from 'commander';

/** Subcommands of this service; filled in with the service itself. */
export function register(_program: Command): void {}
