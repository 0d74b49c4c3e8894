import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { endpointFamily, endpointKey, formatEndpoint, parseEndpoint } from '../../src/handshake/endpoint.js';
import { endpointOf } from '../../src/proxy/connector.js';

describe('Endpoint', () => {
  it('keeps IPv4 as is, brackets IPv6 in text and keys', () => {
    const v4 = parseEndpoint('10.0.0.2', 8080);
    expect(v4).toEqual({ address: '10.0.0.2', port: 8080 });
    expect(endpointFamily(v4)).toBe(4);
    expect(formatEndpoint(v4)).toBe('10.0.0.2:8080');
    const v6 = parseEndpoint('FD00:0000::0002', 8080);
    expect(v6).toEqual({ address: 'fd00::2', port: 8080 });
    expect(endpointFamily(v6)).toBe(6);
    expect(formatEndpoint(v6)).toBe('[fd00::2]:8080');
    expect(endpointKey(v6)).toBe('[fd00::2]:8080');
  });

  it('gives one key to every spelling of an address (what the kernel reports included)', () => {
    const spellings = ['2001:db8:0:0:1:0:0:1', '2001:DB8::1:0:0:1', '2001:0db8:0000:0000:0001:0000:0000:0001'];
    expect(new Set(spellings.map((a) => endpointKey(parseEndpoint(a, 1))))).toEqual(new Set(['[2001:db8::1:0:0:1]:1']));
  });

  it.each([
    ['fe80::1', /link-local/],
    ['fe80::1%eth0', /zone/],
    ['febf::1', /link-local/],
    ['ff02::1', /multicast/],
    ['::', /unspecified/],
    ['::ffff:10.0.0.2', /IPv4-mapped.*10\.0\.0\.2/],
    ['backend.internal', /not an IPv4 or IPv6/],
    ['010.0.0.1', /not an IPv4 or IPv6/],
  ])('refuses %s', (address, why) => {
    expect(() => parseEndpoint(address, 80)).toThrow(InvalidArgumentError);
    expect(() => parseEndpoint(address, 80)).toThrow(why);
  });

  it('refuses ports outside 1..65535', () => {
    expect(() => parseEndpoint('fd00::2', 0)).toThrow(InvalidArgumentError);
    expect(() => parseEndpoint('fd00::2', 65536)).toThrow(InvalidArgumentError);
  });

  it('the connector reads undici\'s unbracketed IPv6 host into the canonical endpoint', () => {
    expect(endpointOf('fd00:0::2', '8080', 'http:')).toEqual({ address: 'fd00::2', port: 8080 });
    expect(endpointOf('fd00::2', '', 'https:')).toEqual({ address: 'fd00::2', port: 443 });
    expect(endpointOf('10.0.0.2', '', 'http:')).toEqual({ address: '10.0.0.2', port: 80 });
    expect(endpointOf('backend.internal', '80', 'http:')).toBeUndefined();
    // Not poolable: plain connects, as for a name.
    expect(endpointOf('fe80::1', '80', 'http:')).toBeUndefined();
  });
});
