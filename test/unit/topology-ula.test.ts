import { describe, expect, it } from 'vitest';
import { ulaPair } from '../../bench/topology/topology-names.js';
import { canonicalIpv6 } from '../../src/packet/index.js';

describe('topology IPv6 addresses', () => {
  it('are canonical (RFC 5952) for every subnet the allocator can pick', () => {
    for (let a = 1; a <= 254; a++) {
      for (let b = 0; b < 256; b++) {
        const { clientAddr6, serverAddr6 } = ulaPair(a, b);
        expect(canonicalIpv6(clientAddr6)).toBe(clientAddr6);
        expect(canonicalIpv6(serverAddr6)).toBe(serverAddr6);
      }
    }
    expect(ulaPair(1, 0)).toEqual({ clientAddr6: 'fd00:1::1', serverAddr6: 'fd00:1::2' });
    expect(ulaPair(0xfe, 0xff)).toEqual({ clientAddr6: 'fd00:fe:ff::1', serverAddr6: 'fd00:fe:ff::2' });
  });
});
