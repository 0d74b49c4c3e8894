import { readU16, readU32 } from './big-endian.js';

/** TCP option kinds (IANA "TCP Option Kind Numbers"). */
export const TCP_OPTION_KIND = { EOL: 0, NOP: 1, MSS: 2, WSCALE: 3, SACK_PERMITTED: 4, TIMESTAMP: 8 } as const;

/** The only lengths RFC 9293 / RFC 7323 / RFC 2018 allow for the options we understand. */
const OPTION_LENGTH = { MSS: 4, WSCALE: 3, SACK_PERMITTED: 2, TIMESTAMP: 10 } as const;

/** RFC 7323 §2.3: a shift above 14 would let the window exceed 2^30, past what sequence-number comparisons can tell apart. */
export const MAX_WSCALE = 14;

/**
 * Options carried in a TCP header. Decoding reports values as received
 * (a wscale above 14 included: clamping is the consumer's decision, as Linux
 * clamps with a warning); encoding refuses what we must never send.
 */
export interface TcpOptions {
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  timestamp?: { val: number; ecr: number };
}

export type TcpOptionsDecodeResult = { ok: true; options: TcpOptions } | { ok: false; reason: 'bad-option' };

function checkUint(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`${name} must be an integer in 0..${max}, got ${value}`);
}

/**
 * Encodes options in the layout Linux's tcp_options_write() uses for a SYN
 * (MSS, SACK_PERM, TS, NOP, WSCALE when all are present), so our SYN is
 * indistinguishable from the kernel's to middleboxes and fingerprinting.
 * Each option group is NOP-padded to 4 bytes, so the result is always a
 * multiple of 4 and never needs trailing EOL. Throws RangeError on values
 * that do not fit their field.
 */
export function encodeTcpOptions(o: TcpOptions): Buffer {
  const sack = o.sackPermitted === true;
  const length =
    (o.mss !== undefined ? 4 : 0) +
    (o.timestamp !== undefined ? 12 : sack ? 4 : 0) +
    (o.wscale !== undefined ? 4 : 0);
  const out = Buffer.alloc(length);
  let i = 0;
  if (o.mss !== undefined) {
    checkUint('mss', o.mss, 0xffff);
    out[i++] = TCP_OPTION_KIND.MSS;
    out[i++] = OPTION_LENGTH.MSS;
    out.writeUInt16BE(o.mss, i);
    i += 2;
  }
  if (o.timestamp !== undefined) {
    // SACK_PERM (2 bytes) fills the slot that would otherwise be NOP NOP before TS.
    if (sack) {
      out[i++] = TCP_OPTION_KIND.SACK_PERMITTED;
      out[i++] = OPTION_LENGTH.SACK_PERMITTED;
    } else {
      out[i++] = TCP_OPTION_KIND.NOP;
      out[i++] = TCP_OPTION_KIND.NOP;
    }
    out[i++] = TCP_OPTION_KIND.TIMESTAMP;
    out[i++] = OPTION_LENGTH.TIMESTAMP;
    // Timestamps are a wrapping 32-bit clock: any number is taken modulo 2^32.
    out.writeUInt32BE(o.timestamp.val >>> 0, i);
    out.writeUInt32BE(o.timestamp.ecr >>> 0, i + 4);
    i += 8;
  } else if (sack) {
    out[i++] = TCP_OPTION_KIND.NOP;
    out[i++] = TCP_OPTION_KIND.NOP;
    out[i++] = TCP_OPTION_KIND.SACK_PERMITTED;
    out[i++] = OPTION_LENGTH.SACK_PERMITTED;
  }
  if (o.wscale !== undefined) {
    checkUint('wscale', o.wscale, MAX_WSCALE);
    out[i++] = TCP_OPTION_KIND.NOP;
    out[i++] = TCP_OPTION_KIND.WSCALE;
    out[i++] = OPTION_LENGTH.WSCALE;
    out[i++] = o.wscale;
  }
  return out;
}

/**
 * Parses `bytes[start, end)` as a TCP options area. Returns the options, or
 * null when an option is malformed. Never reads outside the range.
 * Duplicated options: the last one wins, as in Linux's tcp_parse_options().
 */
export function parseTcpOptionsRange(bytes: Uint8Array, start: number, end: number): TcpOptions | null {
  const options: TcpOptions = {};
  const limit = Math.min(end, bytes.length);
  let i = Math.max(0, start);
  while (i < limit) {
    const kind = bytes[i]!;
    if (kind === TCP_OPTION_KIND.EOL) break;
    if (kind === TCP_OPTION_KIND.NOP) {
      i++;
      continue;
    }
    if (i + 1 >= limit) return null;
    const length = bytes[i + 1]!;
    if (length < 2 || i + length > limit) return null;
    switch (kind) {
      case TCP_OPTION_KIND.MSS:
        if (length !== OPTION_LENGTH.MSS) return null;
        options.mss = readU16(bytes, i + 2);
        break;
      case TCP_OPTION_KIND.WSCALE:
        if (length !== OPTION_LENGTH.WSCALE) return null;
        options.wscale = bytes[i + 2]!;
        break;
      case TCP_OPTION_KIND.SACK_PERMITTED:
        if (length !== OPTION_LENGTH.SACK_PERMITTED) return null;
        options.sackPermitted = true;
        break;
      case TCP_OPTION_KIND.TIMESTAMP:
        if (length !== OPTION_LENGTH.TIMESTAMP) return null;
        options.timestamp = {
          val: readU32(bytes, i + 2),
          ecr: readU32(bytes, i + 6),
        };
        break;
      default:
        // Unknown kinds (SACK blocks, MD5, TFO, MPTCP...) are self-describing: skip.
        break;
    }
    i += length;
  }
  return options;
}

/**
 * Parses a whole TCP options area. EOL ends the list, NOP is one byte, every
 * other option needs a length byte ≥ 2 that stays inside the area; known kinds
 * must have their exact length.
 */
export function decodeTcpOptions(bytes: Uint8Array): TcpOptionsDecodeResult {
  const options = parseTcpOptionsRange(bytes, 0, bytes.length);
  return options === null ? { ok: false, reason: 'bad-option' } : { ok: true, options };
}
