import { isIPv4, isIPv6 } from 'node:net';
import { ConfigError } from '../errors.js';

/**
 * A route's host: an exact name, or `*.suffix`, which (like nginx `server_name
 * *.example.com`) matches a name with one or more labels before the suffix
 * (`a.example.com`, `a.b.example.com`), never `example.com` itself. Names are
 * lowercase, without port or trailing dot.
 */
export type HostPattern =
  | { readonly kind: 'exact'; readonly name: string }
  /** `suffix` keeps its leading dot: ".example.com". */
  | { readonly kind: 'wildcard'; readonly suffix: string };

// RFC 1123 labels, plus "_" (common in internal names); 63 characters each, 253 in all.
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const MAX_NAME = 253;

function nameProblem(name: string): string | undefined {
  if (name.length > MAX_NAME) return `longer than ${MAX_NAME} characters`;
  for (const label of name.split('.')) {
    if (label === '') return 'has an empty label';
    if (!LABEL.test(label)) return `label ${JSON.stringify(label)} is not letters, digits, "-" or "_" (at most 63)`;
  }
  return undefined;
}

/** Parses a route's `host`; throws ConfigError naming `field` for an empty, ported or malformed one. */
export function parseHostPattern(value: unknown, field: string): HostPattern {
  const bad = (why: string): never => {
    throw new ConfigError(field, `${why} (got ${JSON.stringify(value)}; allowed: a host name such as "api.example.com", "*.example.com", an IPv4 address or "[IPv6]")`);
  };
  if (typeof value !== 'string') return bad('not a string');
  if (value === '') return bad('empty host');
  let text = value.toLowerCase();
  if (text.endsWith('.') && text.length > 1) text = text.slice(0, -1);
  if (text.startsWith('[') && text.endsWith(']') && isIPv6(text.slice(1, -1)) && !text.includes('%')) return { kind: 'exact', name: text };
  if (isIPv4(text)) return { kind: 'exact', name: text };
  if (text.includes(':')) return bad('a port or an unbracketed IPv6 address: ports are ignored when matching, so give the host alone');
  if (text.includes('*')) {
    if (!text.startsWith('*.') || text.indexOf('*', 1) >= 0) return bad('bad wildcard: only a leading "*." is allowed');
    const problem = nameProblem(text.slice(2));
    if (problem !== undefined) return bad(`bad wildcard: the suffix ${problem}`);
    return { kind: 'wildcard', suffix: text.slice(1) };
  }
  const problem = nameProblem(text);
  if (problem !== undefined) return bad(`the host ${problem}`);
  return { kind: 'exact', name: text };
}

/**
 * The name to route a request by, from its Host header: port and trailing dot
 * removed, lowercased. Runs per request: no allocation unless something is removed
 * or lowered.
 */
export function requestHostName(host: string | undefined): string | undefined {
  if (host === undefined || host === '') return undefined;
  let end = host.length;
  if (host.charCodeAt(0) === 91 /* [ */) {
    const close = host.indexOf(']');
    if (close >= 0) end = close + 1;
  } else {
    const colon = host.indexOf(':');
    if (colon >= 0) end = colon;
  }
  if (end > 1 && host.charCodeAt(end - 1) === 46 /* . */) end -= 1;
  return (end === host.length ? host : host.slice(0, end)).toLowerCase();
}

/** Every name `inner` matches is matched by `outer` too. */
export function hostCovers(outer: HostPattern | undefined, inner: HostPattern | undefined): boolean {
  if (outer === undefined) return true;
  if (inner === undefined) return false;
  if (outer.kind === 'exact') return inner.kind === 'exact' && inner.name === outer.name;
  if (inner.kind === 'exact') return inner.name.endsWith(outer.suffix);
  return inner.suffix.endsWith(outer.suffix);
}

export function describeHost(pattern: HostPattern): string {
  return pattern.kind === 'exact' ? pattern.name : `*${pattern.suffix}`;
}
