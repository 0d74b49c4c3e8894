/**
 * Which forwarding headers the proxy writes upstream (config `forwardedHeader`):
 * the de-facto X-Forwarded-For/-Proto/-Host, the RFC 7239 `Forwarded`, or both.
 * HAProxy names the same choice `option forwardfor` / `option forwarded`.
 */
export const FORWARDED_HEADER_MODES = ['x-forwarded', 'forwarded', 'both'] as const;
export type ForwardedHeaderMode = (typeof FORWARDED_HEADER_MODES)[number];

// RFC 7230 tchar: a value made only of these needs no quotes.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function tokenOrQuoted(value: string): string {
  return TOKEN.test(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * RFC 7239 §6 node for `for=`: IPv4 as is, IPv6 as a quoted "[v6]" (its colons are
 * not token characters; a zone is not part of the grammar and is dropped), and
 * `unknown` when the peer's address is not known (the socket is already gone).
 */
function forNode(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  if (!address.includes(':')) return address;
  const percent = address.indexOf('%');
  return `"[${percent < 0 ? address : address.slice(0, percent)}]"`;
}

/** This hop's element: `for=…;host=…;proto=…` (host left out when the client sent none). */
export function forwardedElement(address: string | undefined, host: string | undefined, proto: string): string {
  const hostPart = host === undefined ? '' : `;host=${tokenOrQuoted(host)}`;
  return `for=${forNode(address)}${hostPart};proto=${proto}`;
}
