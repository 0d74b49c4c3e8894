import { isIPv4, isIPv6 } from 'node:net';
import { InvalidArgumentError } from '../errors.js';
import { parseIpv6Address, formatIpv6Address } from '../packet/ipv6-address.js';

/**
 * An IP address and TCP port. `address` is canonical: a dotted quad, or IPv6
 * in RFC 5952 form without brackets (parseEndpoint makes it so), because the
 * handshake layer matches it as a string against what the kernel reports.
 */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export type AddressFamily = 4 | 6;

/** Only IPv6 text contains a colon. */
export function endpointFamily(e: Endpoint): AddressFamily {
  return e.address.includes(':') ? 6 : 4;
}

/** "10.0.0.2:8080" or "[fd00::2]:8080". */
export function formatEndpoint(e: Endpoint): string {
  return endpointFamily(e) === 6 ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/** Each endpoint's key, made once: it is looked up several times on a pooled request's path. */
const keys = new WeakMap<Endpoint, string>();

/** The map key of an endpoint: its formatEndpoint spelling (endpoints are never changed once made). */
export function endpointKey(e: Endpoint): string {
  let key = keys.get(e);
  if (key === undefined) keys.set(e, (key = formatEndpoint(e)));
  return key;
}

/**
 * The canonical spelling of an upstream address, or an InvalidArgumentError
 * saying why it cannot be one. Refused IPv6: zone ids and link-local
 * addresses (a pooled entry would need the interface carried through every
 * bind, connect and kernel filter: not supported), IPv4-mapped addresses
 * (use the IPv4 address), multicast and the unspecified address.
 */
export function canonicalAddress(address: string): string {
  if (isIPv4(address)) return address;
  if (address.includes('%')) {
    throw new InvalidArgumentError(`${address}: IPv6 zone ids (link-local upstreams) are not supported; use a global or ULA address`);
  }
  if (!isIPv6(address)) throw new InvalidArgumentError(`${address} is not an IPv4 or IPv6 address`);
  const b = parseIpv6Address(address);
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) {
    throw new InvalidArgumentError(`${address} is link-local (fe80::/10): link-local upstreams are not supported; use a global or ULA address`);
  }
  if (b[0] === 0xff) throw new InvalidArgumentError(`${address} is a multicast address`);
  if (b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    throw new InvalidArgumentError(`${address} is IPv4-mapped: use the IPv4 address ${b.slice(12).join('.')}`);
  }
  if (b.every((x) => x === 0)) throw new InvalidArgumentError(`${address} is the unspecified address`);
  return formatIpv6Address(b);
}

/** Checks an endpoint once at the edge and canonicalises its address. */
export function parseEndpoint(address: string, port: number): Endpoint {
  const canonical = canonicalAddress(address);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(`port ${port} is not in 1..65535`);
  return { address: canonical, port };
}
