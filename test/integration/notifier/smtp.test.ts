/**
 * E-mail through a real SMTP server process (smtp-server in a child process), not a mock: the
 * alert e-mail carries the photos, the sparkline as an inline PNG, stock and the reorder quantity;
 * the digest lists what was not in a digest yet, once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NotifierConfig } from '../../../services/notifier/config.ts';
import { type Notifier, startNotifier } from '../../../services/notifier/service.ts';
import { parseSubscriptions } from '../../../services/notifier/subscriptions.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { alertFixture } from '../../unit/notifier/alert-fixture.ts';
import { notifierConfig, produceAlerts, storePhoto, waitFor } from './harness.ts';
import { leaves, parseMime } from './mime.ts';

const { kafkaBrokers } = integrationEnv();
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'notifier-smtp-test' });
const namespace = uniqueNamespace('notifier-smtp');
const mailDir = mkdtempSync(join(tmpdir(), 'smtp-sink-'));
let smtp: ChildProcess;
let smtpPort: number;
let config: NotifierConfig;
let notifier: Notifier | undefined;

const subscriptions = parseSubscriptions({
  buyers: [
    {
      id: 'anna',
      name: 'Anna Rossi',
      email: 'anna@buyers.example',
      timeZone: 'Europe/Rome',
      follows: { categories: ['Shoes'] },
      channels: { email: true, digestAt: '08:30' },
    },
    {
      id: 'dev',
      name: 'Dev',
      email: 'dev@buyers.example',
      follows: { categories: ['Bags'] },
      channels: { email: true },
    },
  ],
});

const received = () =>
  readdirSync(mailDir)
    .sort()
    .map((file) => parseMime(readFileSync(join(mailDir, file), 'latin1')));

beforeAll(async () => {
  smtp = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('./smtp-sink.ts', import.meta.url).pathname, mailDir],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  smtpPort = await new Promise<number>((resolve, reject) => {
    smtp.stdout!.on('data', (chunk: Buffer) => {
      const match = /listening (\d+)/.exec(chunk.toString());
      if (match) resolve(Number(match[1]));
    });
    smtp.once('exit', (code) => reject(new Error(`SMTP server exited with ${code}`)));
  });
  config = await notifierConfig(kafka, kafkaBrokers, namespace, {
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    NOTIFIER_PUBLIC_URL: 'https://inbox.example.com/',
  });
});

afterAll(async () => {
  await notifier?.stop();
  smtp?.kill('SIGTERM');
});

describe('e-mail delivery', () => {
  it('sends the follower an HTML e-mail with photos, sparkline image, stock and quantity, and nobody else', async () => {
    const blobPhoto = await storePhoto(config.BLOB_STORE_DIR);
    const alert = alertFixture({
      photos: [
        { postId: 'p1', imageUrl: 'https://cdn.example.com/photos/red-pumps.jpg', memberId: 'm1' },
        { postId: 'p2', imageUrl: blobPhoto, memberId: 'm2', matchScore: 0.88 },
      ],
    });
    notifier = await startNotifier(config, { subscriptions });
    await produceAlerts(kafka, namespace, [alert]);

    const [mail] = await waitFor(() => (received().length >= 1 ? received() : undefined));
    expect(mail!.headers.get('x-envelope-to')).toBe('anna@buyers.example');
    expect(mail!.headers.get('subject')).toContain('Rising');
    const parts = leaves(mail!);
    const html = parts
      .find((p) => p.headers.get('content-type')?.startsWith('text/html'))!
      .body.toString('utf8');
    const images = parts.filter((p) => p.headers.get('content-type')?.startsWith('image/'));

    expect(html).toContain('src="https://cdn.example.com/photos/red-pumps.jpg"');
    expect(html).toMatch(/Stock on hand<\/td><td><strong>37<\/strong>/);
    expect(html).toMatch(/Suggested reorder quantity<\/td><td><strong>180<\/strong>/);
    expect(html).toMatch(/Days of cover<\/td><td><strong>5.7 days<\/strong>/);
    expect(html).toContain('https://inbox.example.com/');

    // Every cid the HTML points at is attached, and the attachments are real images.
    const cids = [...html.matchAll(/src="cid:([^"]+)"/g)].map((m) => m[1]);
    expect(cids).toHaveLength(2);
    const byCid = new Map(images.map((p) => [p.headers.get('content-id')?.replace(/[<>]/g, ''), p]));
    const sparkline = byCid.get(cids.find((c) => c!.startsWith('sparkline'))!)!;
    const photo = byCid.get(cids.find((c) => c!.startsWith('photo'))!)!;
    expect(sparkline.headers.get('content-type')).toContain('image/png');
    expect(sparkline.body.subarray(1, 4).toString()).toBe('PNG');
    expect(photo.headers.get('content-type')).toContain('image/jpeg');
    expect(photo.body[0]).toBe(0xff);
    expect(photo.body[1]).toBe(0xd8);
  });

  it('sends a digest once: the second run finds nothing new', async () => {
    await produceAlerts(kafka, namespace, [
      alertFixture({ sku: 'SH-BLK-002', priority: 'P3', raisedAt: new Date().toISOString() }),
    ]);
    // Anna's threshold is P3, so this alert also goes out instantly: wait for that e-mail first.
    await waitFor(() => (received().length >= 2 ? true : undefined));
    const before = received().length;
    const listed = await notifier!.sendDigest('anna');
    // Only alerts raised in the last week make a digest: the fixture's first alert is in 2026.
    expect(listed).toBeGreaterThanOrEqual(1);
    const digests = await waitFor(() => {
      const mails = received().slice(before);
      return mails.length >= 1 ? mails : undefined;
    });
    expect(digests[0]!.headers.get('subject')).toMatch(
      /Your Trend Radar digest for \d{4}-\d{2}-\d{2}: \d+ alert/,
    );
    const html = leaves(digests[0]!)
      .find((p) => p.headers.get('content-type')?.startsWith('text/html'))!
      .body.toString('utf8');
    expect(html).toContain('SKU SH-BLK-002');
    expect(await notifier!.sendDigest('anna')).toBe(0);

    // A restart reads the ledger back: still nothing new for the digest, no e-mail re-sent.
    await notifier!.stop();
    notifier = await startNotifier(config, { subscriptions });
    expect(await notifier.sendDigest('anna')).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(received()).toHaveLength(before + 1);
  });

  it("threads an escalation's e-mail under the episode's first one and says what changed", async () => {
    const first = received()[0]!; // the first test's alert e-mail to anna
    const before = received().length;
    await produceAlerts(kafka, namespace, [
      alertFixture({
        status: 'escalated',
        uplift: 9.1,
        suggestedReorderQty: 400,
        raisedAt: '2026-03-02T11:00:05.000Z',
      }),
    ]);
    const [mail] = await waitFor(() => {
      const mails = received().slice(before);
      return mails.length >= 1 ? mails : undefined;
    });
    expect(mail!.headers.get('subject')).toContain('Escalated');
    expect(mail!.headers.get('in-reply-to')).toBe(first.headers.get('message-id'));
    expect(mail!.headers.get('references')).toContain(first.headers.get('message-id')!);
    const text = leaves(mail!)
      .find((p) => p.headers.get('content-type')?.startsWith('text/plain'))!
      .body.toString('utf8');
    expect(text).toContain('Was P1 ×4.3, 180 units suggested, 5.7 days of cover');
    expect(text).toContain('raised 2 Mar, 12:00 CET');
  });
});
