import type { Socket } from 'node:net';
import { ConfigError } from '../errors.js';
import { parseIpAddress, type IpWords } from './ip-address.js';

/** A parsed network: the 128-bit address (IPv4 mapped) and its mask, word by word. */
interface Network {
  readonly words: IpWords;
  readonly mask: IpWords;
}

const MAX_ENTRY_LENGTH = 64;

/**
 * Parses "ADDRESS/PREFIX" or a bare address (a /32 or /128). Returns the reason when
 * it is not one: set host bits are refused, since "10.0.0.1/8" may mean a host or a
 * network, and guessing wrong would trust a whole /8.
 */
export function parseCidr(text: unknown): Network | string {
  if (typeof text !== 'string') return 'not a string';
  if (text.length > MAX_ENTRY_LENGTH) return `longer than ${MAX_ENTRY_LENGTH} characters`;
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const words = parseIpAddress(addressText);
  if (words === undefined) return `${JSON.stringify(addressText)} is not an IPv4 or IPv6 address`;
  const v4 = !addressText.includes(':');
  const max = v4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    if (!/^(0|[1-9]\d{0,2})$/.test(prefixText) || Number(prefixText) > max) return `prefix length ${JSON.stringify(prefixText)} is not an integer from 0 to ${max}`;
    bits = Number(prefixText);
  }
  // IPv4 lives in the low 32 bits of ::ffff:0:0/96.
  const mask = maskOf(v4 ? 96 + bits : bits);
  for (let i = 0; i < 4; i++) {
    if (((words[i]! & ~mask[i]!) >>> 0) !== 0) return `host bits are set past /${bits}: did you mean ${networkText(words, mask, v4, bits)}?`;
  }
  return { words, mask };
}

function maskOf(bits: number): IpWords {
  const word = (i: number): number => {
    const n = Math.max(0, Math.min(32, bits - 32 * i));
    return n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
  };
  return [word(0), word(1), word(2), word(3)];
}

function networkText(words: IpWords, mask: IpWords, v4: boolean, bits: number): string {
  const net = words.map((w, i) => (w & mask[i]!) >>> 0);
  if (v4) {
    const w = net[3]!;
    return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}/${bits}`;
  }
  const groups = net.flatMap((w) => [(w >>> 16).toString(16), (w & 0xffff).toString(16)]);
  return `${groups.join(':')}/${bits}`;
}

/**
 * The peers whose forwarding headers are believed (config `trustedProxies`). Built once
 * from the configured CIDRs; the per-request check is a few integer comparisons, and
 * its answer is kept per client socket (a keep-alive connection asks once).
 */
export class TrustedProxies {
  /** Networks flattened: 4 address words then 4 mask words per network. */
  readonly #table: Uint32Array;
  readonly #bySocket = new WeakMap<Socket, boolean>();
  readonly size: number;

  /** Throws ConfigError naming `${field}[i]` and the reason for the first bad entry. */
  constructor(entries: readonly unknown[], field = 'trustedProxies') {
    this.size = entries.length;
    this.#table = new Uint32Array(entries.length * 8);
    for (const [i, entry] of entries.entries()) {
      const parsed = parseCidr(entry);
      if (typeof parsed === 'string') throw new ConfigError(`${field}[${i}]`, `${parsed} (got ${JSON.stringify(entry)}; allowed: an IPv4 or IPv6 address or CIDR, e.g. "10.0.0.0/8", "::1/128")`);
      this.#table.set(parsed.words, i * 8);
      this.#table.set(parsed.mask, i * 8 + 4);
    }
  }

  /** Whether `address` (as a socket reports it, zone allowed) is in a trusted network. */
  trusts(address: string | undefined): boolean {
    if (this.size === 0 || address === undefined) return false;
    const percent = address.indexOf('%');
    const words = parseIpAddress(percent < 0 ? address : address.slice(0, percent));
    if (words === undefined) return false;
    const t = this.#table;
    for (let o = 0; o < t.length; o += 8) {
      if (
        ((words[0] & t[o + 4]!) >>> 0) === t[o] &&
        ((words[1] & t[o + 5]!) >>> 0) === t[o + 1] &&
        ((words[2] & t[o + 6]!) >>> 0) === t[o + 2] &&
        ((words[3] & t[o + 7]!) >>> 0) === t[o + 3]
      ) {
        return true;
      }
    }
    return false;
  }

  /** trusts(socket.remoteAddress), remembered for the socket's lifetime. */
  trustsPeer(socket: Socket): boolean {
    if (this.size === 0) return false;
    let trusted = this.#bySocket.get(socket);
    if (trusted === undefined) {
      trusted = this.trusts(socket.remoteAddress);
      // A destroyed socket may have lost its address: do not remember "untrusted" for it.
      if (socket.remoteAddress !== undefined) this.#bySocket.set(socket, trusted);
    }
    return trusted;
  }
}

/** No trusted peers: every forwarding header from a client is replaced. */
export const NO_TRUSTED_PROXIES = new TrustedProxies([]);
