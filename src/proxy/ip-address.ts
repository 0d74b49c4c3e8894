import { isIPv4, isIPv6 } from 'node:net';
import { parseIpv4Address } from '../packet/ipv4-address.js';

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
  return ipv6Words(text);
}

/** `text` is a valid IPv6 address (isIPv6 said so): expand "::" and an embedded IPv4 tail. */
function ipv6Words(text: string): IpWords {
  const groups: number[] = [];
  const gap = text.indexOf('::');
  const head = gap < 0 ? text : text.slice(0, gap);
  const tail = gap < 0 ? '' : text.slice(gap + 2);
  const before = hextets(head);
  const after = hextets(tail);
  groups.push(...before);
  for (let i = before.length + after.length; i < 8; i++) groups.push(0);
  groups.push(...after);
  return [
    (groups[0]! * 0x10000 + groups[1]!) >>> 0,
    (groups[2]! * 0x10000 + groups[3]!) >>> 0,
    (groups[4]! * 0x10000 + groups[5]!) >>> 0,
    (groups[6]! * 0x10000 + groups[7]!) >>> 0,
  ];
}

function hextets(part: string): number[] {
  if (part === '') return [];
  const out: number[] = [];
  for (const group of part.split(':')) {
    if (group.includes('.')) {
      const v4 = parseIpv4Address(group);
      out.push(Math.floor(v4 / 0x10000), v4 % 0x10000);
    } else {
      out.push(parseInt(group, 16));
    }
  }
  return out;
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
