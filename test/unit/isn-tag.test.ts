// The ISN tag: every ISN the handshaker sends answers with a tagged ack, and
// the rest of the ISN stays random.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ackCarriesTag, ISN_TAG_BITS, isnTagPattern, MAX_ISN_TAG, randomIsnTag, taggedIsn } from '../../src/handshake/isn-tag.js';

const uint32 = fc.integer({ min: 0, max: 0xffffffff });
const tag = fc.integer({ min: 0, max: MAX_ISN_TAG });

describe('taggedIsn', () => {
  it('ISN+1 carries the tag for every tag and random input, including the wrap at 0', () => {
    fc.assert(fc.property(tag, uint32, (t, r) => {
      const isn = taggedIsn(t, r);
      expect(Number.isInteger(isn) && isn >= 0 && isn <= 0xffffffff).toBe(true);
      expect(ackCarriesTag((isn + 1) >>> 0, t)).toBe(true);
      expect(((isn + 1) >>> 0) >>> (32 - ISN_TAG_BITS)).toBe(t);
    }), { numRuns: 5000 });
    expect(taggedIsn(0, 0)).toBe(0xffffffff); // ISN+1 = 0 wraps: still tag 0
  });

  it('keeps the low bits random: distinct inputs below the tag give distinct ISNs', () => {
    fc.assert(fc.property(tag, fc.integer({ min: 0, max: 2 ** (32 - ISN_TAG_BITS) - 1 }), fc.integer({ min: 0, max: 2 ** (32 - ISN_TAG_BITS) - 1 }), (t, a, b) => {
      expect(taggedIsn(t, a) === taggedIsn(t, b)).toBe(a === b);
    }));
  });

  it('rejects tags outside 0…MAX_ISN_TAG', () => {
    for (const bad of [-1, MAX_ISN_TAG + 1, 0.5, Number.NaN]) expect(() => isnTagPattern(bad)).toThrow(RangeError);
  });

  it('draws random tags in range', () => {
    for (let i = 0; i < 100; i++) {
      const t = randomIsnTag();
      expect(t >= 0 && t <= MAX_ISN_TAG && Number.isInteger(t)).toBe(true);
    }
  });
});
