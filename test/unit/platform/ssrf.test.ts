import { describe, expect, it } from 'vitest';
import { assertFetchableUrl, ForbiddenUrlError, isForbiddenAddress } from '../../../shared/net/ssrf.ts';

const resolveTo = (addresses: string[]) => async () => addresses;

describe('SSRF rules for image URLs', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '0.0.0.0',
    '::1',
    'fe80::1',
    'fc00::1',
    '::ffff:127.0.0.1',
    '224.0.0.1',
    '100.64.0.1',
  ])('forbids %s', (address) => {
    expect(isForbiddenAddress(address)).toBe(true);
  });

  it('allows public unicast addresses', () => {
    expect(isForbiddenAddress('93.184.216.34')).toBe(false);
    expect(isForbiddenAddress('2606:2800:220:1:248:1893:25c8:1946')).toBe(false);
  });

  it.each([
    ['file:///etc/passwd', /only https/],
    ['javascript:alert(1)', /only https/],
    ['http://cdn.example.com/a.jpg', /only https/],
    ['https://user:pw@cdn.example.com/a.jpg', /credentials/],
    ['https://127.0.0.1/a.jpg', /private, loopback/],
    ['https://[::1]/a.jpg', /private, loopback/],
    ['not a url', /not a URL/],
  ])('rejects %s', async (url, reason) => {
    await expect(assertFetchableUrl(url, { resolve: resolveTo(['93.184.216.34']) })).rejects.toThrow(reason);
  });

  it('rejects a name when any of its addresses is private (DNS rebinding through a second record)', async () => {
    await expect(
      assertFetchableUrl('https://cdn.example.com/a.jpg', {
        resolve: resolveTo(['93.184.216.34', '10.0.0.5']),
      }),
    ).rejects.toBeInstanceOf(ForbiddenUrlError);
  });

  it('accepts a public name, and an allow-listed internal host', async () => {
    await expect(
      assertFetchableUrl('https://cdn.example.com/a.jpg', { resolve: resolveTo(['93.184.216.34']) }),
    ).resolves.toBeInstanceOf(URL);
    await expect(
      assertFetchableUrl('https://images.internal/a.jpg', {
        allowHosts: ['images.internal'],
        resolve: resolveTo(['10.0.0.5']),
      }),
    ).resolves.toBeInstanceOf(URL);
  });

  it('rejects names that do not resolve', async () => {
    const fail = async () => {
      throw new Error('ENOTFOUND');
    };
    await expect(assertFetchableUrl('https://nowhere.example/a.jpg', { resolve: fail })).rejects.toThrow(
      /cannot resolve/,
    );
  });
});
