/**
 * `notifier check` applies the start-up requirements of `notifier run`: the subscriptions file of
 * docs/buyers.md passes both only with the settings it needs, and both name every missing one.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NotifierEnv } from '../../../services/notifier/config.ts';
import { missingSettings, requireSettings } from '../../../services/notifier/requirements.ts';
import { startNotifier } from '../../../services/notifier/service.ts';
import { parseSubscriptions, SubscriptionsError } from '../../../services/notifier/subscriptions.ts';
import { loadConfig } from '../../../shared/config/env.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** The example subscriptions file of docs/buyers.md, as a reader would copy it. */
const docsExample = (() => {
  const docs = readFileSync(join(root, 'docs/buyers.md'), 'utf8');
  const block = /## The subscriptions file[\s\S]*?```json\n([\s\S]*?)```/.exec(docs);
  if (!block) throw new Error('docs/buyers.md has no example subscriptions file');
  return block[1]!;
})();

const SECRET = 'a-webhook-secret-of-some-length';
const MISSING_SECRET = 'NOTIFIER_WEBHOOK_SECRET is required: buyers anna have a webhook';
const MISSING_SMTP = 'SMTP_URL is required: buyers anna get e-mail';

function cli(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const { NOTIFIER_WEBHOOK_SECRET: _s, SMTP_URL: _u, ...inherited } = process.env;
    execFile(
      process.execPath,
      ['--import', 'tsx', 'shared/cli/main.ts', ...args],
      { cwd: root, env: { ...inherited, LOG_LEVEL: 'silent', ...env }, timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('start-up requirements', () => {
  const subscriptions = parseSubscriptions(JSON.parse(docsExample), 'docs/buyers.md');

  it('names every missing setting at once', () => {
    expect(missingSettings({}, subscriptions)).toEqual([MISSING_SECRET, MISSING_SMTP]);
    expect(() => requireSettings({}, subscriptions)).toThrow(
      new SubscriptionsError(`2 settings are missing:\n  ${MISSING_SECRET}\n  ${MISSING_SMTP}`),
    );
    expect(missingSettings({ NOTIFIER_WEBHOOK_SECRET: SECRET }, subscriptions)).toEqual([MISSING_SMTP]);
    expect(missingSettings({ SMTP_URL: 'smtp://mail.internal:25' }, subscriptions)).toEqual([MISSING_SECRET]);
    expect(missingSettings({ NOTIFIER_WEBHOOK_SECRET: SECRET }, subscriptions, { hasMailer: true })).toEqual(
      [],
    );
    // Inbox-only buyers need nothing.
    expect(missingSettings({}, parseSubscriptions({ buyers: [subscriptions.buyers[1]] }))).toEqual([]);
  });

  it('`run` refuses the docs example without them, naming both before it connects anywhere', async () => {
    const config = loadConfig(NotifierEnv, { KAFKA_BROKERS: '127.0.0.1:1', LOG_LEVEL: 'silent' });
    await expect(startNotifier(config, { subscriptions })).rejects.toThrow(
      `2 settings are missing:\n  ${MISSING_SECRET}\n  ${MISSING_SMTP}`,
    );
  });

  it('`check` fails the docs example without the settings `run` needs, and passes it with them', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'buyers-')), 'buyers.json');
    writeFileSync(file, docsExample);
    const without = await cli(['notifier', 'check'], { NOTIFIER_SUBSCRIPTIONS_FILE: file });
    expect(without.code).toBe(1);
    expect(without.stderr).toContain(MISSING_SECRET);
    expect(without.stderr).toContain(MISSING_SMTP);
    // It still prints who follows what.
    expect(without.stdout).toMatch(/^anna .*category:Shoes.*webhook, email, digest@08:30 Europe\/Rome$/m);

    const withSettings = await cli(['notifier', 'check'], {
      NOTIFIER_SUBSCRIPTIONS_FILE: file,
      NOTIFIER_WEBHOOK_SECRET: SECRET,
      SMTP_URL: 'smtp://mail.internal:25',
    });
    expect(withSettings.stderr).toBe('');
    expect(withSettings.code).toBe(0);
    expect(withSettings.stdout).toMatch(/^ben .*region:JP .*inbox only$/m);
  });

  it('`check` fails on a misspelled key, and warns about categories and brands the catalogue lacks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'buyers-'));
    const typo = join(dir, 'typo.json');
    writeFileSync(
      typo,
      JSON.stringify({
        buyers: [{ id: 'x', name: 'X', follows: { categories: ['Shoes'] }, chanels: { email: true } }],
      }),
    );
    const failed = await cli(['notifier', 'check'], { NOTIFIER_SUBSCRIPTIONS_FILE: typo });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('buyers.0.chanels: unknown key (did you mean "channels"?)');
    expect(failed.stdout).not.toContain('inbox only');

    const buyers = join(dir, 'buyers.json');
    writeFileSync(
      buyers,
      JSON.stringify({
        buyers: [{ id: 'x', name: 'X', follows: { categories: ['Shose'], brands: ['Maison Rouge'] } }],
      }),
    );
    const feed = join(dir, 'catalogue.json');
    writeFileSync(
      feed,
      JSON.stringify([
        {
          sku: 'SH-1',
          name: 'Pumps',
          category: 'Shoes',
          brand: 'Maison Rouge',
          images: [{ view: 'front', url: 'https://cdn.example.com/a.jpg' }],
        },
      ]),
    );
    const warned = await cli(['notifier', 'check', '--catalogue', feed], {
      NOTIFIER_SUBSCRIPTIONS_FILE: buyers,
    });
    expect(warned.code).toBe(0);
    expect(warned.stderr).toContain(
      'warning: x: category "Shose" is not in the catalogue (did you mean "Shoes"?)',
    );
    expect(warned.stderr).not.toContain('Maison Rouge');
  });
});
