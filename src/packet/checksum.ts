import { parseIpv4Address } from './ipv4-address.js';
import { parseIpv6Address } from './ipv6-address.js';

const IPPROTO_TCP = 6;

// Running state of a one's complement sum over a byte stream split into parts.
// `pendingHigh` is the first byte of a 16-bit word whose second byte lives in
// the next part (or -1): RFC 1071 sums words of the concatenation, so a part
// of odd length must not be padded on its own.
interface SumState {
  sum: number;
  pendingHigh: number;
}

function addBytes(state: SumState, bytes: Uint8Array, start: number, end: number): void {
  // A double holds 2^53 exactly, so summing 16-bit words without folding
  // cannot lose carries for any segment we could ever see.
  let sum = state.sum;
  let i = start;
  if (state.pendingHigh >= 0 && i < end) {
    sum += (state.pendingHigh << 8) | bytes[i]!;
    state.pendingHigh = -1;
    i++;
  }
  for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < end) state.pendingHigh = bytes[i]!;
  state.sum = sum;
}

function finish(state: SumState): number {
  let sum = state.sum;
  if (state.pendingHigh >= 0) sum += state.pendingHigh << 8;
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/**
 * RFC 1071 Internet checksum of the concatenation of `parts`.
 * Over data that already contains a correct checksum the result is 0.
 */
export function internetChecksum(...parts: Uint8Array[]): number {
  const state: SumState = { sum: 0, pendingHigh: -1 };
  for (const part of parts) addBytes(state, part, 0, part.length);
  return finish(state);
}

/**
 * TCP checksum over the IPv4 pseudo-header and `segment[start, end)`, addresses as
 * unsigned 32-bit numbers. The decoder uses this form to verify in place without
 * copying the segment or formatting addresses.
 */
export function tcpChecksumIpv4(srcAddr: number, dstAddr: number, segment: Uint8Array, start = 0, end = segment.length): number {
  start = Math.max(0, start);
  end = Math.min(end, segment.length);
  const length = Math.max(0, end - start);
  const state: SumState = {
    sum:
      Math.floor(srcAddr / 0x10000) + (srcAddr & 0xffff) +
      Math.floor(dstAddr / 0x10000) + (dstAddr & 0xffff) +
      IPPROTO_TCP + length,
    pendingHigh: -1,
  };
  addBytes(state, segment, start, end);
  return finish(state);
}

/**
 * TCP checksum over the IPv6 pseudo-header (RFC 8200 §8.1: source, destination,
 * 32-bit upper-layer length, 24 zero bits, next header 6) and `segment[start, end)`.
 * An IPv6 raw socket does not fill in a TCP checksum (IPV6_CHECKSUM is off
 * for every protocol but ICMPv6), so every segment we send carries this one.
 */
export function tcpChecksumIpv6(srcAddr: Uint8Array, dstAddr: Uint8Array, segment: Uint8Array, start = 0, end = segment.length): number {
  start = Math.max(0, start);
  end = Math.min(end, segment.length);
  const length = Math.max(0, end - start);
  const state: SumState = { sum: Math.floor(length / 0x10000) + (length & 0xffff) + IPPROTO_TCP, pendingHigh: -1 };
  addBytes(state, srcAddr, 0, 16);
  addBytes(state, dstAddr, 0, 16);
  addBytes(state, segment, start, end);
  return finish(state);
}

/**
 * TCP checksum over the pseudo-header of the addresses' family (both IPv4 or
 * both IPv6) and `tcpSegment`. The segment's own checksum field is summed
 * as-is: zero it before computing a checksum to send, or leave it in place to
 * verify (a correct segment gives 0).
 */
export function tcpChecksum(srcAddr: string, dstAddr: string, tcpSegment: Uint8Array): number {
  const v6 = srcAddr.includes(':');
  if (v6 !== dstAddr.includes(':')) throw new RangeError(`addresses of two families: ${srcAddr} and ${dstAddr}`);
  if (v6) return tcpChecksumIpv6(parseIpv6Address(srcAddr), parseIpv6Address(dstAddr), tcpSegment);
  return tcpChecksumIpv4(parseIpv4Address(srcAddr), parseIpv4Address(dstAddr), tcpSegment);
}
