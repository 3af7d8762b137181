import type { LookupAddress } from 'node:dns';
import { type AddressInfo, connect, createServer, type LookupFunction } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  assertFetchableUrl,
  checkedLookup,
  DnsUnavailableError,
  ForbiddenUrlError,
  isForbiddenAddress,
} from '../../../shared/net/ssrf.ts';

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

  const failWith = (code?: string) => async () => {
    throw Object.assign(new Error(`getaddrinfo ${code ?? 'failed'} nowhere.example`), { code });
  };

  it.each(['ENOTFOUND', 'ENODATA'])('rejects names that do not resolve (%s) for good', async (code) => {
    const check = assertFetchableUrl('https://nowhere.example/a.jpg', { resolve: failWith(code) });
    await expect(check).rejects.toBeInstanceOf(ForbiddenUrlError);
    await expect(check).rejects.toThrow(/cannot resolve/);
    await expect(
      assertFetchableUrl('https://nowhere.example/a.jpg', { resolve: resolveTo([]) }),
    ).rejects.toBeInstanceOf(ForbiddenUrlError);
  });

  it.each(['EAI_AGAIN', 'ETIMEOUT', 'ESERVFAIL', 'EAI_FAIL', 'ECONNREFUSED', undefined])(
    'reports a temporary DNS failure (%s) as DnsUnavailableError, not as a forbidden URL',
    async (code) => {
      const check = assertFetchableUrl('https://cdn.example.com/a.jpg', { resolve: failWith(code) });
      await expect(check).rejects.toBeInstanceOf(DnsUnavailableError);
      await expect(check).rejects.not.toBeInstanceOf(ForbiddenUrlError);
    },
  );
});

/** Calls a LookupFunction the way net.connect does. */
function lookupWith(lookup: LookupFunction, host: string, options: { all?: boolean; family?: number } = {}) {
  return new Promise<{ address: string | LookupAddress[]; family?: number }>((resolve, reject) =>
    lookup(host, options, (error, address, family) => (error ? reject(error) : resolve({ address, family }))),
  );
}

describe('checkedLookup: connections go only to checked addresses', () => {
  /** A rebinding DNS server: a public answer first, a private one afterwards. */
  const rebinding = () => {
    let calls = 0;
    return async () => (++calls === 1 ? ['93.184.216.34'] : ['127.0.0.1']);
  };

  it('refuses the second, private answer of a name whose first answer passed the check', async () => {
    const policy = { resolve: rebinding() };
    await expect(assertFetchableUrl('https://rebind.example/a.jpg', policy)).resolves.toBeInstanceOf(URL);
    await expect(lookupWith(checkedLookup(policy), 'rebind.example')).rejects.toBeInstanceOf(
      ForbiddenUrlError,
    );
  });

  it('answers with the checked addresses, in the form net asks for', async () => {
    const lookup = checkedLookup({
      resolve: resolveTo(['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946']),
    });
    await expect(lookupWith(lookup, 'cdn.example.com')).resolves.toEqual({
      address: '93.184.216.34',
      family: 4,
    });
    await expect(lookupWith(lookup, 'cdn.example.com', { all: true })).resolves.toMatchObject({
      address: [
        { address: '93.184.216.34', family: 4 },
        { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 },
      ],
    });
    await expect(lookupWith(lookup, 'cdn.example.com', { family: 6 })).resolves.toMatchObject({ family: 6 });
  });

  it('reports DNS failing at connect time as DnsUnavailableError', async () => {
    const lookup = checkedLookup({
      resolve: async () => {
        throw Object.assign(new Error('queryA ETIMEOUT cdn.example.com'), { code: 'ETIMEOUT' });
      },
    });
    await expect(lookupWith(lookup, 'cdn.example.com')).rejects.toBeInstanceOf(DnsUnavailableError);
  });

  it('a socket connects to the address the lookup checked, and never to a refused one', async () => {
    let connections = 0;
    const server = createServer((socket) => {
      connections++;
      socket.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const dial = (lookup: LookupFunction) =>
      new Promise<void>((resolve, reject) => {
        // `images.test` exists only in the test resolver: the OS cannot have resolved it.
        const socket = connect({ host: 'images.test', port, lookup }, () => {
          socket.destroy();
          resolve();
        });
        socket.on('error', reject);
      });
    try {
      await expect(dial(checkedLookup({ resolve: resolveTo(['127.0.0.1']) }))).rejects.toBeInstanceOf(
        ForbiddenUrlError,
      );
      expect(connections).toBe(0);
      // Allow-listed (an internal CDN): the address is not checked, and it is the one connected to.
      await dial(checkedLookup({ allowHosts: ['images.test'], resolve: resolveTo(['127.0.0.1']) }));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(connections).toBe(1);
    } finally {
      server.close();
    }
  });
});
