import { tcpChecksum } from './checksum.js';
import { encodeTcpOptions, type TcpOptions } from './tcp-options.js';

export interface SegmentSpec {
  srcAddr: string;
  dstAddr: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  options?: TcpOptions;
  payload?: Uint8Array;
}

export const TCP_HEADER_LENGTH = 20;
/** The data offset field counts 32-bit words in 4 bits: 15 × 4 bytes at most. */
export const MAX_TCP_HEADER_LENGTH = 60;
/** A 20-byte IPv4 header plus the segment must fit the 16-bit total length. */
export const MAX_TCP_SEGMENT_LENGTH = 0xffff - 20;

function checkUint(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`${name} must be an integer in 0..${max}, got ${value}`);
}

/**
 * Builds a TCP segment (header, options, payload) with its checksum filled in.
 * No IP header: a raw IPPROTO_TCP socket without IP_HDRINCL adds its own.
 * seq and ack are taken modulo 2^32 so callers can do ISN arithmetic freely;
 * ports, window and flags throw RangeError when they do not fit their field.
 */
export function encodeTcpSegment(spec: SegmentSpec): Buffer {
  checkUint('srcPort', spec.srcPort, 0xffff);
  checkUint('dstPort', spec.dstPort, 0xffff);
  checkUint('window', spec.window, 0xffff);
  checkUint('flags', spec.flags, 0xff);
  const options = spec.options === undefined ? undefined : encodeTcpOptions(spec.options);
  const headerLength = TCP_HEADER_LENGTH + (options?.length ?? 0);
  if (headerLength > MAX_TCP_HEADER_LENGTH) throw new RangeError(`TCP header would be ${headerLength} bytes, more than ${MAX_TCP_HEADER_LENGTH}`);
  const payloadLength = spec.payload?.length ?? 0;
  if (headerLength + payloadLength > MAX_TCP_SEGMENT_LENGTH) {
    throw new RangeError(`TCP segment would be ${headerLength + payloadLength} bytes, more than ${MAX_TCP_SEGMENT_LENGTH}`);
  }

  const out = Buffer.alloc(headerLength + payloadLength);
  out.writeUInt16BE(spec.srcPort, 0);
  out.writeUInt16BE(spec.dstPort, 2);
  out.writeUInt32BE(spec.seq >>> 0, 4);
  out.writeUInt32BE(spec.ack >>> 0, 8);
  out[12] = (headerLength / 4) << 4;
  out[13] = spec.flags;
  out.writeUInt16BE(spec.window, 14);
  // Checksum (16) stays zero until computed below; urgent pointer (18) is never used.
  if (options !== undefined) out.set(options, TCP_HEADER_LENGTH);
  if (spec.payload !== undefined) out.set(spec.payload, headerLength);
  out.writeUInt16BE(tcpChecksum(spec.srcAddr, spec.dstAddr, out), 16);
  return out;
}
