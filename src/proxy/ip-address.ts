import { isIPv4, isIPv6 } from 'node:net';
import { parseIpv4Address } from '../packet/ipv4-address.js';
import { ipv6Words } from '../packet/ipv6-address.js';

/**
 * An IP address as four big-endian 32-bit words (128 bits). IPv4 is stored as its
 * IPv4-mapped IPv6 form (::ffff:a.b.c.d), so a socket's "::ffff:10.0.0.1" and
 * "10.0.0.1" are the same address and one mask comparison serves both families.
 */
export type IpWords = readonly [number, number, number, number];

const MAPPED_PREFIX = 0xffff;

/** The words of a dotted-quad IPv4 address or an IPv6 address (no zone); undefined for anything else. */
export function parseIpAddress(text: string): IpWords | undefined {
  if (isIPv4(text)) return [0, 0, MAPPED_PREFIX, parseIpv4Address(text)];
  // isIPv6 accepts a zone ("fe80::1%eth0"); a zone names an interface, not an address.
  if (!isIPv6(text) || text.includes('%')) return undefined;
  return ipv6WordsOrUndefined(text);
}

/** `text` is a valid IPv6 address (isIPv6 said so); undefined for what the stricter packet-layer parser refuses (e.g. a zero-padded IPv4 tail). */
function ipv6WordsOrUndefined(text: string): IpWords | undefined {
  try {
    return ipv6Words(text);
  } catch {
    return undefined;
  }
}

/**
 * A peer address as the forwarding headers show it: an IPv4-mapped IPv6 address as
 * plain IPv4 (one spelling per client for the upstream), anything else unchanged.
 */
export function displayAddress(address: string): string {
  return address.length > 7 && address.charCodeAt(0) === 58 /* : */ && address.startsWith('::ffff:') && isIPv4(address.slice(7))
    ? address.slice(7)
    : address;
}
