import type { IncomingHttpHeaders } from 'node:http';
import { forwardedElement, type ForwardedHeaderMode } from './forwarded-element.js';
import { displayAddress } from './ip-address.js';

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
  /**
   * The client's address is a trusted proxy (config `trustedProxies`): its forwarding
   * headers are extended. Otherwise (the default) they are replaced, so a client
   * cannot choose the address the upstream sees.
   */
  trustedPeer?: boolean;
  /** Which forwarding headers to write; default 'x-forwarded'. */
  forwardedHeader?: ForwardedHeaderMode;
}

/** Header names listed in Connection (RFC 9110 §7.6.1), lowercased; undefined when there is none. */
function namedByConnection(value: string, into: Set<string> | undefined): Set<string> {
  const tokens = into ?? new Set<string>();
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    if (t !== '') tokens.add(t);
  }
  return tokens;
}

function joinValue(prior: string | undefined, value: string): string {
  return prior === undefined ? value : `${prior}, ${value}`;
}

/**
 * Headers for the upstream request: hop-by-hop removed, Expect removed (node:http
 * already answered 100-continue), Host set by policy, Via appended, and the
 * forwarding headers of `ctx.forwardedHeader` (X-Forwarded-For/-Proto/-Host,
 * Forwarded): from an untrusted peer the client's are replaced, from a trusted one
 * extended (For and Forwarded appended to, Proto and Host kept). The family not
 * written is removed from any peer: an upstream must never read a chain that lacks
 * this hop.
 * One pass over the client's raw headers, each name lowercased once: this runs for
 * every request (the pair helpers above say the same thing, for the rarer paths).
 */
export function upstreamRequestHeaders(rawHeaders: readonly string[], ctx: ForwardContext): string[] {
  const n = rawHeaders.length - (rawHeaders.length % 2);
  const lower: string[] = new Array<string>(n / 2);
  let named: Set<string> | undefined;
  for (let i = 0; i < n; i += 2) {
    const l = (rawHeaders[i] as string).toLowerCase();
    lower[i / 2] = l;
    if (l === 'connection') named = namedByConnection(rawHeaders[i + 1] as string, named);
  }
  const out: string[] = ['host', ''];
  const trusted = ctx.trustedPeer === true;
  let clientHost: string | undefined;
  let priorFor: string | undefined;
  let priorProto: string | undefined;
  let priorHost: string | undefined;
  let priorForwarded: string | undefined;
  let priorVia: string | undefined;
  for (let i = 0; i < n; i += 2) {
    const l = lower[i / 2] as string;
    const value = rawHeaders[i + 1] as string;
    if (l === 'host') {
      clientHost = joinValue(clientHost, value.trim());
      continue;
    }
    if (HOP_BY_HOP.has(l) || l.startsWith('proxy-') || named?.has(l) === true || l === 'expect') continue;
    if (l === 'via') {
      priorVia = joinValue(priorVia, value.trim());
      continue;
    }
    if (l === 'forwarded' || l === 'x-real-ip' || l.startsWith('x-forwarded-')) {
      // An untrusted peer's are all forgeable (X-Forwarded-Port, -Prefix and X-Real-IP
      // too, which upstream frameworks read): dropped unread.
      if (!trusted) continue;
      const v = value.trim();
      if (l === 'x-forwarded-for') priorFor = joinValue(priorFor, v);
      else if (l === 'x-forwarded-proto') priorProto = joinValue(priorProto, v);
      else if (l === 'x-forwarded-host') priorHost = joinValue(priorHost, v);
      else if (l === 'forwarded') priorForwarded = joinValue(priorForwarded, v);
      else {
        out.push(rawHeaders[i] as string, value);
      }
      continue;
    }
    out.push(rawHeaders[i] as string, value);
  }
  out[1] = ctx.preserveHost && clientHost !== undefined ? clientHost : ctx.upstreamHost;
  const address = ctx.clientAddress === undefined ? undefined : displayAddress(ctx.clientAddress);
  const mode = ctx.forwardedHeader ?? 'x-forwarded';
  if (mode !== 'forwarded') {
    if (address !== undefined) out.push('x-forwarded-for', joinValue(priorFor, address));
    else if (priorFor !== undefined) out.push('x-forwarded-for', priorFor);
    out.push('x-forwarded-proto', priorProto ?? 'http');
    const forwardedHost = priorHost ?? clientHost;
    if (forwardedHost !== undefined) out.push('x-forwarded-host', forwardedHost);
  }
  if (mode !== 'x-forwarded') out.push('forwarded', joinValue(priorForwarded, forwardedElement(address, clientHost, 'http')));
  out.push('via', joinValue(priorVia, `${ctx.httpVersion} ${VIA_PSEUDONYM}`));
  return out;
}

const RESPONSE_VIA = `1.1 ${VIA_PSEUDONYM}`;

/**
 * Headers for the client response: hop-by-hop removed, Via appended (undici speaks
 * HTTP/1.1 upstream). One pass, like upstreamRequestHeaders; the headers a Connection
 * header names are taken out after it, and only when there is one (rare in responses).
 */
export function clientResponseHeaders(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): string[] {
  let named: Set<string> | undefined;
  let out: string[] = [];
  let priorVia: string | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const l = name.toLowerCase();
    if (l === 'connection') {
      if (Array.isArray(value)) for (const v of value) named = namedByConnection(v, named);
      else named = namedByConnection(String(value), named);
      continue;
    }
    if (HOP_BY_HOP.has(l) || l.startsWith('proxy-')) continue;
    if (l === 'via') {
      if (Array.isArray(value)) for (const v of value) priorVia = joinValue(priorVia, v.trim());
      else priorVia = joinValue(priorVia, String(value).trim());
      continue;
    }
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, String(value));
  }
  if (named !== undefined) {
    if (named.has('via')) priorVia = undefined;
    const kept: string[] = [];
    for (let i = 0; i < out.length; i += 2) if (!named.has((out[i] as string).toLowerCase())) kept.push(out[i] as string, out[i + 1] as string);
    out = kept;
  }
  out.push('via', joinValue(priorVia, RESPONSE_VIA));
  return out;
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
