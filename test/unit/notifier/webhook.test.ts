import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  isRetryableStatus,
  signWebhook,
  slackMessage,
  verifyWebhook,
} from '../../../services/notifier/webhook.ts';
import { alertFixture } from './alert-fixture.ts';

const secret = 'a-long-shared-secret-for-tests';

describe('webhook signing', () => {
  const body = JSON.stringify({ text: 'hello' });
  const now = 1_772_445_600_000;
  const ts = Math.floor(now / 1000);

  it('verifies its own signature and rejects tampering, other secrets and stale timestamps', () => {
    const signature = signWebhook(secret, ts, body);
    expect(signature).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(verifyWebhook(secret, { timestamp: String(ts), signature }, body, now)).toBe(true);
    expect(verifyWebhook(secret, { timestamp: String(ts), signature }, `${body} `, now)).toBe(false);
    expect(verifyWebhook('another-secret-entirely', { timestamp: String(ts), signature }, body, now)).toBe(
      false,
    );
    expect(verifyWebhook(secret, { timestamp: String(ts), signature }, body, now + 301_000)).toBe(false);
    expect(verifyWebhook(secret, { timestamp: String(ts + 1), signature }, body, now)).toBe(false);
    expect(verifyWebhook(secret, { timestamp: undefined, signature }, body, now)).toBe(false);
  });

  it('retries server errors and throttling, not rejections', () => {
    expect([500, 502, 503, 429, 408].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 410].some(isRetryableStatus)).toBe(false);
  });

  it('backs off exponentially with jitter', () => {
    expect(backoffDelay(1, 500, 1)).toBe(500);
    expect(backoffDelay(3, 500, 1)).toBe(2000);
    expect(backoffDelay(3, 500, 0)).toBe(1000);
  });
});

describe('Slack message', () => {
  it('carries the figures a buyer acts on and escapes Slack control characters', () => {
    const alert = alertFixture({ product: { ...alertFixture().product, name: '<!channel> & friends' } });
    const message = slackMessage(alert, ['category Shoes'], 'https://inbox.example.com/') as {
      text: string;
      blocks: Array<{
        text?: { text: string };
        fields?: Array<{ text: string }>;
        accessory?: { image_url: string };
      }>;
    };
    expect(message.text).toContain('<!channel> & friends'); // plain-text fallback is not mrkdwn
    expect(message.blocks[0]!.text!.text).toContain('&lt;!channel&gt; &amp; friends');
    expect(message.blocks[0]!.accessory!.image_url).toBe('https://cdn.example.com/photos/red-pumps.jpg');
    const fields = message.blocks[1]!.fields!.map((f) => f.text).join('\n');
    expect(fields).toContain('37 on hand');
    expect(fields).toContain('5.7 days');
    expect(fields).toContain('*Suggested reorder*\n180');
  });
});
