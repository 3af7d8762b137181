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

type SlackBody = {
  text: string;
  blocks: Array<{
    text?: { text: string };
    fields?: Array<{ text: string }>;
    accessory?: { image_url: string };
  }>;
};

describe('Slack message', () => {
  it('carries the figures a buyer acts on and escapes Slack control characters', () => {
    const alert = alertFixture({ product: { ...alertFixture().product, name: '<!channel> & friends' } });
    const message = slackMessage(alert, ['category Shoes'], 'https://inbox.example.com/') as SlackBody;
    expect(message.blocks[0]!.text!.text).toContain('&lt;!channel&gt; &amp; friends');
    expect(message.blocks[0]!.accessory!.image_url).toBe('https://cdn.example.com/photos/red-pumps.jpg');
    const fields = message.blocks[2]!.fields!.map((f) => f.text).join('\n');
    expect(fields).toContain('*Stock on hand*\n37');
    expect(fields).toContain('5.7 days');
    expect(fields).toContain('*Suggested reorder quantity*\n180');
  });

  it('escapes the top-level text too: no @channel ping, no disguised link, no broken bold', () => {
    const name = '<!channel> *FLASH* _sale_ ~50%~ `now` <https://evil.example|click here>';
    const alert = alertFixture({ product: { ...alertFixture().product, name, category: '*Shoes*' } });
    const message = slackMessage(alert, ['category *Shoes*'], 'https://inbox.example.com/') as SlackBody;
    // Slack formats `text` as mrkdwn and uses it for notifications, so it needs the same escaping.
    const neutral = '&lt;!channel&gt; ∗FLASH∗ ˍsaleˍ ∼50%∼ ˋnowˋ &lt;https://evil.example|click here&gt;';
    expect(message.text).toBe(`P1 Rising: Maison Rouge — ${neutral} (×4.3 usual interest)`);
    const [title, subtitle] = message.blocks[0]!.text!.text.split('\n');
    expect(title).toBe(`*P1 Rising: Maison Rouge — ${neutral} (×4.3 usual interest)*`); // one bold span, whole
    expect(subtitle).toContain('because you follow category ∗Shoes∗');
    expect(subtitle).not.toMatch(/[<*_~`]/);
  });

  it('links uploaded photos under the public URL, whatever its trailing slash, keeping its path', () => {
    const digest = 'ab'.repeat(32);
    const alert = alertFixture({
      photos: [{ postId: 'p1', imageUrl: `blob:sha256:${digest}`, memberId: 'm1' }],
    });
    const photo = (inboxUrl?: string) =>
      (slackMessage(alert, ['category Shoes'], inboxUrl) as SlackBody).blocks[0]!.accessory?.image_url;
    expect(photo('https://inbox.example/')).toBe(`https://inbox.example/blobs/sha256/${digest}`);
    expect(photo('https://inbox.example')).toBe(`https://inbox.example/blobs/sha256/${digest}`);
    expect(photo('https://corp.example/trend-radar/')).toBe(
      `https://corp.example/trend-radar/blobs/sha256/${digest}`,
    );
    expect(photo('https://corp.example/trend-radar')).toBe(
      `https://corp.example/trend-radar/blobs/sha256/${digest}`,
    );
    // Without NOTIFIER_PUBLIC_URL the inbox URL is the http listener Slack cannot reach: no photo.
    expect(photo('http://127.0.0.1:8088/')).toBeUndefined();
    expect(photo(undefined)).toBeUndefined();
  });
});
