import { describe, expect, it } from 'vitest';
import { AddressGuard } from '../../tools/builtins/address-guard.js';
import { decodeEntities, htmlToText } from '../../tools/builtins/html-text.js';
import { cidrContains, formatIp, nonPublicReason, parseCidr, parseIp, parseLegacyIpv4 } from '../../tools/builtins/ip-policy.js';
import { BlockedAddressError } from '../../tools/errors.js';

const reason = (s: string) => nonPublicReason(parseIp(s)!);

describe('address classification', () => {
  it('names every non-public IPv4 range and passes public ones', () => {
    const table: Array<[string, string | null]> = [
      ['127.0.0.1', 'loopback'], ['127.255.255.254', 'loopback'], ['10.0.0.1', 'private'], ['172.16.0.1', 'private'],
      ['172.31.255.255', 'private'], ['192.168.0.1', 'private'], ['169.254.169.254', 'link-local'],
      ['100.64.0.1', 'carrier-grade NAT'], ['0.0.0.0', 'unspecified ("this network")'], ['224.0.0.251', 'multicast'],
      ['255.255.255.255', 'reserved/broadcast'], ['8.8.8.8', null], ['172.32.0.1', null], ['100.128.0.1', null], ['93.184.216.34', null],
    ];
    for (const [ip, why] of table) expect(reason(ip), ip).toBe(why);
  });

  it('classifies IPv6 including IPv4 embedded in mapped, compatible, NAT64 and 6to4 forms', () => {
    expect(reason('::1')).toBe('loopback');
    expect(reason('::')).toBe('unspecified');
    expect(reason('fe80::1%eth0')).toBe('link-local');
    expect(reason('fd12:3456::1')).toBe('unique-local');
    expect(reason('fc00::1')).toBe('unique-local');
    expect(reason('ff02::1')).toBe('multicast');
    expect(reason('::ffff:127.0.0.1')).toMatch(/^loopback \(IPv4-mapped 127\.0\.0\.1\)/);
    expect(reason('::ffff:a00:1')).toMatch(/^private/);
    expect(reason('::ffff:8.8.8.8')).toBeNull();
    expect(reason('::10.0.0.1')).toMatch(/^private \(IPv4-compatible/);
    expect(reason('64:ff9b::7f00:1')).toMatch(/^loopback \(NAT64/);
    expect(reason('2002:a9fe:a9fe::1')).toMatch(/^link-local \(6to4 169\.254\.169\.254\)/);
    expect(reason('2606:4700:4700::1111')).toBeNull();
    expect(formatIp(parseIp('[2001:db8::1:0:0:1]')!)).toBe('2001:db8:0:0:1:0:0:1');
  });

  it('parses legacy IPv4 spellings like inet_aton', () => {
    for (const s of ['2130706433', '0x7f000001', '0x7F.1', '0177.0.0.1', '127.1', '127.0.1', '0x7f.0.0.0x1']) {
      expect(formatIp(parseLegacyIpv4(s)!), s).toBe('127.0.0.1');
    }
    expect(parseLegacyIpv4('example.com')).toBeNull();
    expect(parseLegacyIpv4('256.1.1.1')).toBeNull();
    expect(parseLegacyIpv4('08.1.1.1')).toBeNull();
    expect(parseLegacyIpv4('4294967296')).toBeNull();
  });

  it('matches allowlist CIDRs, including IPv4-mapped addresses against IPv4 CIDRs', () => {
    const c = parseCidr('10.1.0.0/16')!;
    expect(cidrContains(c, parseIp('10.1.200.3')!)).toBe(true);
    expect(cidrContains(c, parseIp('10.2.0.1')!)).toBe(false);
    expect(cidrContains(c, parseIp('::ffff:10.1.0.9')!)).toBe(true);
    expect(parseCidr('10.0.0.0/33')).toBeNull();
    expect(parseCidr('fd00::/8')).not.toBeNull();
  });
});

describe('AddressGuard', () => {
  const resolverTo = (...addresses: string[]) => async () => addresses.map((address) => ({ address, family: (address.includes(':') ? 6 : 4) as 4 | 6 }));

  it('allows public resolutions and pins what it checked', async () => {
    const g = new AddressGuard({ resolver: resolverTo('93.184.216.34', '2606:2800:220:1::1') });
    expect(await g.check('example.com')).toEqual([
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1:0:0:0:1', family: 6 },
    ]);
  });

  it('honours host, wildcard and CIDR allow entries', async () => {
    const g = new AddressGuard({ allow: ['docs.internal', '*.corp.example', '10.9.0.0/16'], resolver: resolverTo('10.0.0.5') });
    await expect(g.check('docs.internal')).resolves.toHaveLength(1);
    await expect(g.check('wiki.corp.example')).resolves.toHaveLength(1);
    await expect(g.check('10.9.1.1')).resolves.toHaveLength(1);
    await expect(g.check('10.8.1.1')).rejects.toBeInstanceOf(BlockedAddressError);
    await expect(g.check('other.example')).rejects.toThrow(/other\.example resolves to 10\.0\.0\.5, a private address/);
    expect(() => new AddressGuard({ allow: ['not a host!'] })).toThrow(/neither a host name/);
  });
});

describe('HTML text extraction', () => {
  it('decodes entities and survives malformed markup', () => {
    expect(decodeEntities('&lt;a&gt; &amp;amp; &#169; &#x1F600; &bogus; &#0;')).toBe('<a> &amp; © 😀 &bogus; \uFFFD');
    expect(htmlToText('<p>unterminated <b>bold<script>alert(1)')).toBe('unterminated bold');
    expect(htmlToText('<table><tr><td>a</td><td>b</td></tr></table><img alt="logo" src="x.png">text<br>next')).toBe('a b\n\n[image: logo] text\nnext');
  });
});
