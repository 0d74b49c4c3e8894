import { lookup as dnsLookup } from 'node:dns/promises';
import { parseEndpoint, endpointKey, type Endpoint } from '../handshake/endpoint.js';

/**
 * Resolves a host name to every address it has. Tests inject one; a single
 * string is taken as a one-address answer (the earlier IPv4-only signature).
 */
export type AddressLookup = (hostname: string) => Promise<string | readonly string[]>;

/**
 * The system resolver (getaddrinfo): /etc/hosts, nsswitch, and per-namespace
 * hosts files under `ip netns exec` all apply, as they do for every other
 * program on the host. Every A and AAAA record, in the resolver's order.
 * getaddrinfo gives no record TTL, so re-resolution follows resolveIntervalMs.
 */
export const systemLookup: AddressLookup = async (hostname) => {
  const answers = await dnsLookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => a.address);
};

export interface UsableEndpoints {
  readonly endpoints: Endpoint[];
  /** Addresses the pool cannot use (e.g. link-local), with why. */
  readonly skipped: Array<{ address: string; reason: string }>;
}

/**
 * The resolver's answer as pool targets: each address once, in order, in the
 * canonical form the kernel reports (so keys match inbound segments), and
 * only those parseEndpoint accepts.
 */
export function usableEndpoints(addresses: string | readonly string[], port: number): UsableEndpoints {
  const endpoints: Endpoint[] = [];
  const skipped: Array<{ address: string; reason: string }> = [];
  const seen = new Set<string>();
  for (const address of typeof addresses === 'string' ? [addresses] : addresses) {
    let endpoint: Endpoint;
    try {
      endpoint = parseEndpoint(address, port);
    } catch (err) {
      skipped.push({ address, reason: (err as Error).message });
      continue;
    }
    const key = endpointKey(endpoint);
    if (seen.has(key)) continue;
    seen.add(key);
    endpoints.push(endpoint);
  }
  return { endpoints, skipped };
}
