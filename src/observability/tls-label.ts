/** A request record names its upstream by the configured URL: https:// means TLS on the upstream connection. */
export function isTlsUpstream(upstreamUrl: string): boolean {
  return upstreamUrl.startsWith('https:');
}
