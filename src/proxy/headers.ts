import type { IncomingHttpHeaders } from 'node:http';

/** [name, value] with the name as received (case kept). */
export type HeaderPair = [name: string, value: string];

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus the legacy ones proxies also drop. Proxy-* is matched by prefix. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export const VIA_PSEUDONYM = 'synpool';

export function pairsFromRaw(raw: readonly string[]): HeaderPair[] {
  const pairs: HeaderPair[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i] as string, raw[i + 1] as string]);
  return pairs;
}

export function pairsFromObject(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): HeaderPair[] {
  const pairs: HeaderPair[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) pairs.push([name, v]);
    else pairs.push([name, String(value)]);
  }
  return pairs;
}

export function flatten(pairs: readonly HeaderPair[]): string[] {
  const flat: string[] = [];
  for (const [name, value] of pairs) flat.push(name, value);
  return flat;
}

/** The header names listed in Connection, lowercased. */
export function connectionTokens(pairs: readonly HeaderPair[]): Set<string> {
  const tokens = new Set<string>();
  for (const [name, value] of pairs) {
    if (name.toLowerCase() !== 'connection') continue;
    for (const token of value.split(',')) {
      const t = token.trim().toLowerCase();
      if (t !== '') tokens.add(t);
    }
  }
  return tokens;
}

export function isHopByHop(lowerName: string, named: ReadonlySet<string>): boolean {
  return HOP_BY_HOP.has(lowerName) || lowerName.startsWith('proxy-') || named.has(lowerName);
}

/** Drops Connection and the headers it names, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade. */
export function removeHopByHop(pairs: readonly HeaderPair[]): HeaderPair[] {
  const named = connectionTokens(pairs);
  return pairs.filter(([name]) => !isHopByHop(name.toLowerCase(), named));
}

function joinedValues(pairs: readonly HeaderPair[], lowerName: string): string | undefined {
  const values = pairs.filter(([n]) => n.toLowerCase() === lowerName).map(([, v]) => v.trim());
  return values.length === 0 ? undefined : values.join(', ');
}

function without(pairs: readonly HeaderPair[], lowerNames: readonly string[]): HeaderPair[] {
  return pairs.filter(([n]) => !lowerNames.includes(n.toLowerCase()));
}

/** Appends this hop to a Via chain: "1.1 synpool". */
export function appendVia(pairs: readonly HeaderPair[], httpVersion: string): HeaderPair[] {
  const hop = `${httpVersion} ${VIA_PSEUDONYM}`;
  const prior = joinedValues(pairs, 'via');
  return [...without(pairs, ['via']), ['via', prior === undefined ? hop : `${prior}, ${hop}`]];
}

export interface ForwardContext {
  /** The client's address as seen on the socket. */
  clientAddress: string | undefined;
  /** The client's HTTP version ("1.1"). */
  httpVersion: string;
  /** The Host header sent upstream when the client's is not preserved. */
  upstreamHost: string;
  preserveHost: boolean;
}

/**
 * Headers for the upstream request: hop-by-hop removed, Expect removed (node:http
 * already answered 100-continue), Host set by policy, X-Forwarded-For appended,
 * X-Forwarded-Proto and X-Forwarded-Host set, Via appended.
 */
export function upstreamRequestHeaders(rawHeaders: readonly string[], ctx: ForwardContext): string[] {
  const received = pairsFromRaw(rawHeaders);
  const clientHost = joinedValues(received, 'host');
  let pairs = without(removeHopByHop(received), ['expect', 'host', 'x-forwarded-proto', 'x-forwarded-host']);
  const priorFor = joinedValues(pairs, 'x-forwarded-for');
  pairs = without(pairs, ['x-forwarded-for']);
  const host = ctx.preserveHost && clientHost !== undefined ? clientHost : ctx.upstreamHost;
  pairs.unshift(['host', host]);
  if (ctx.clientAddress !== undefined) {
    pairs.push(['x-forwarded-for', priorFor === undefined ? ctx.clientAddress : `${priorFor}, ${ctx.clientAddress}`]);
  } else if (priorFor !== undefined) {
    pairs.push(['x-forwarded-for', priorFor]);
  }
  pairs.push(['x-forwarded-proto', 'http']);
  if (clientHost !== undefined) pairs.push(['x-forwarded-host', clientHost]);
  return flatten(appendVia(pairs, ctx.httpVersion));
}

/** Headers for the client response: hop-by-hop removed, Via appended (undici speaks HTTP/1.1 upstream). */
export function clientResponseHeaders(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): string[] {
  return flatten(appendVia(removeHopByHop(pairsFromObject(headers)), '1.1'));
}

/**
 * The path to send upstream. Origin-form is kept as is; absolute-form
 * ("http://other/x?y") keeps only its path and query, so a request target can never
 * choose the destination. Anything else is undefined (→ 400).
 */
export function upstreamPath(requestTarget: string | undefined): string | undefined {
  if (requestTarget === undefined || requestTarget === '') return undefined;
  if (requestTarget.startsWith('/')) return requestTarget;
  if (/^https?:\/\//i.test(requestTarget)) {
    try {
      const url = new URL(requestTarget);
      return `${url.pathname}${url.search}`;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Headers for a 101 relayed to the client: the upstream's, hop-by-hop removed except
 * Upgrade (the protocol switched to), `Connection: Upgrade` restated, Via appended.
 */
export function upgradeResponseHeaders(pairs: readonly HeaderPair[]): HeaderPair[] {
  const named = connectionTokens(pairs);
  named.delete('upgrade');
  const kept = pairs.filter(([name]) => {
    const lower = name.toLowerCase();
    return lower === 'upgrade' || !isHopByHop(lower, named);
  });
  return appendVia([...kept, ['connection', 'Upgrade']], '1.1');
}

/** A response head for writing straight to a socket. */
export function serializeResponseHead(statusCode: number, statusText: string, pairs: readonly HeaderPair[]): string {
  let head = `HTTP/1.1 ${statusCode} ${statusText}\r\n`;
  for (const [name, value] of pairs) head += `${name}: ${value}\r\n`;
  return `${head}\r\n`;
}
