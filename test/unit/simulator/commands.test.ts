/** `simulate` refuses bad flags before it generates or sends anything. */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { register } from '../../../services/simulator/commands.ts';

function parse(args: string[]): string {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  register(program);
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride().configureOutput({ writeErr: () => {} });
  }
  try {
    program.parse(['simulate', 'run', ...args], { from: 'user' });
    return 'accepted';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('simulate run flags', () => {
  it.each([
    [['--via', 'kafak'], /Allowed choices are http, kafka/],
    [['--rate', 'abc'], /--rate .* must be a number above 0/],
    [['--speed', '0'], /--speed .* must be a number above 0/],
    [['--seed', 'xyz'], /--seed .* must be a whole number/],
    [['--members', '2.5'], /--members .* must be a whole number above 0/],
    [['--photo-strength', '1.5'], /--photo-strength .* must be between 0 and 1/],
    [['--days', ''], /--days .* must be a number above 0/],
  ])('refuses %j', (args, message) => {
    expect(parse(args)).toMatch(message);
  });
});
