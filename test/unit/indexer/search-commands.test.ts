import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { register, risingRequest } from '../../../services/indexer/commands.ts';

const flags = { since: '24h', by: 'sku', size: '20' };

describe('search rising: flags', () => {
  it('passes --country and --category to the per-SKU and the grouped queries', () => {
    expect(risingRequest({ ...flags, country: 'IT', category: 'bags' })).toEqual({
      by: 'sku',
      options: { since: '24h', size: 20, country: 'IT', category: 'bags' },
    });
    expect(risingRequest({ ...flags, by: 'category', country: 'IT' })).toEqual({
      by: 'category',
      options: { since: '24h', size: 20, country: 'IT' },
    });
    expect(risingRequest({ ...flags, by: 'country' })).toEqual({
      by: 'country',
      options: { since: '24h', size: 20 },
    });
  });

  it('refuses an unknown --by and a --size that is not a count', () => {
    expect(() => risingRequest({ ...flags, by: 'colour' })).toThrow(
      '--by must be one of sku, country, category, not "colour"',
    );
    expect(() => risingRequest({ ...flags, size: 'abc' })).toThrow(/--size must be a whole number/);
    expect(() => risingRequest({ ...flags, size: '0' })).toThrow(/--size must be a whole number/);
  });

  it('rejects --by colour on the command line before any query runs', async () => {
    const program = new Command('trend-radar').exitOverride().configureOutput({ writeErr: () => {} });
    register(program);
    await expect(
      program.parseAsync(['search', 'rising', '--by', 'colour'], { from: 'user' }),
    ).rejects.toThrow(/argument 'colour' is invalid\. Allowed choices are sku, country, category/);
  });
});
