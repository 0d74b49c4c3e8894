import type { RequestRecord } from '../proxy/proxy-server.js';

/** The server's URL (or, without a router, the upstream's): https:// means TLS on the upstream connection. */
export function isTlsUpstream(r: Pick<RequestRecord, 'upstream' | 'server'>): boolean {
  return (r.server ?? r.upstream).startsWith('https:');
}
