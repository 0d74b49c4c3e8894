import { readU16, readU32 } from './big-endian.js';
import { tcpChecksumIpv4, tcpChecksumIpv6 } from './checksum.js';
import { formatIpv4Address } from './ipv4-address.js';
import { formatIpv6Address, parseIpv6Address } from './ipv6-address.js';
import { parseTcpOptionsRange, type TcpOptions } from './tcp-options.js';

export type DecodeFailure =
  | 'truncated-ip'
  | 'not-ipv4'
  | 'bad-ihl'
  | 'bad-total-length'
  | 'not-tcp'
  | 'fragment'
  | 'truncated-tcp'
  | 'bad-data-offset'
  | 'bad-option'
  | 'bad-checksum'
  /** decodeBareTcp: the address the socket reported is not IPv6 text. */
  | 'bad-address';

export interface DecodedSegment {
  /** Canonical text (dotted quad, or RFC 5952 IPv6). */
  srcAddr: string;
  /** '' when unknown: an AF_INET6 raw socket delivers no IP header, and recvfrom reports only the source. */
  dstAddr: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  options: TcpOptions;
  payloadLength: number;
}

export type DecodeResult = { ok: true; segment: DecodedSegment } | { ok: false; reason: DecodeFailure };

export interface DecodeOptions {
  /**
   * Off by default. On veth and loopback the sender's kernel may leave the TCP
   * checksum to offload (CHECKSUM_PARTIAL): the packet never crosses a NIC, so
   * the field holds only the pseudo-header sum, and a raw socket receives it
   * that way. Verifying would then drop every genuine SYN-ACK on such links.
   */
  verifyChecksum?: boolean;
}

const IPV4_MIN_HEADER = 20;
const TCP_MIN_HEADER = 20;
const IPPROTO_TCP = 6;
// The IP flags/fragment-offset word: MF is bit 13, the offset the low 13 bits.
const IP_MORE_FRAGMENTS = 0x2000;
const IP_FRAGMENT_OFFSET = 0x1fff;

function fail(reason: DecodeFailure): DecodeResult {
  return { ok: false, reason };
}

/**
 * Decodes what recvfrom() returns on a Linux raw IPPROTO_TCP socket: an IPv4
 * header, then the TCP segment. Never throws and never copies the packet; any
 * inconsistency is reported as a DecodeFailure.
 *
 * Not checked: the IP header checksum (the kernel's ip_rcv() already dropped
 * packets with a bad one before raw delivery) and IP options (skipped via IHL).
 * Linux hands raw sockets reassembled datagrams, so a fragment here is never a
 * legitimate SYN-ACK/RST: every fragment, first included, is rejected.
 */
export function decodeIpv4Tcp(packet: Uint8Array, opts?: DecodeOptions): DecodeResult {
  if (packet.length < IPV4_MIN_HEADER) return fail('truncated-ip');
  const versionIhl = packet[0]!;
  if (versionIhl >> 4 !== 4) return fail('not-ipv4');
  const ipHeaderLength = (versionIhl & 0x0f) * 4;
  if (ipHeaderLength < IPV4_MIN_HEADER) return fail('bad-ihl');
  if (ipHeaderLength > packet.length) return fail('truncated-ip');
  // The total length, not the buffer length, bounds the segment: anything past
  // it (e.g. Ethernet padding on short frames) is not TCP data. BIG TCP GRO
  // packets may carry 0 here; they are bulk data, never a SYN-ACK or RST, so
  // rejecting them costs nothing.
  const totalLength = readU16(packet, 2);
  if (totalLength > packet.length || totalLength < ipHeaderLength) return fail('bad-total-length');
  if (packet[9] !== IPPROTO_TCP) return fail('not-tcp');
  const fragment = readU16(packet, 6);
  if ((fragment & (IP_MORE_FRAGMENTS | IP_FRAGMENT_OFFSET)) !== 0) return fail('fragment');

  const tcp = ipHeaderLength;
  const verify = opts?.verifyChecksum === true ? () => tcpChecksumIpv4(readU32(packet, 12), readU32(packet, 16), packet, tcp, totalLength) === 0 : undefined;
  return decodeTcpRange(packet, tcp, totalLength, formatIpv4Address(packet, 12), formatIpv4Address(packet, 16), verify);
}

/**
 * Decodes what recvfrom() returns on a Linux AF_INET6 raw IPPROTO_TCP socket:
 * the TCP segment alone, no IP header. The addresses come from outside:
 * `srcAddr` is recvfrom's source (any IPv6 spelling; made canonical here),
 * `dstAddr` ours when known. Extension headers and fragments were handled by
 * the kernel before raw delivery. The checksum can be verified only with both
 * addresses. Never throws.
 */
export function decodeBareTcp(segment: Uint8Array, addrs: { srcAddr: string; dstAddr?: string }, opts?: DecodeOptions): DecodeResult {
  let src: Uint8Array;
  let dst: Uint8Array | undefined;
  try {
    src = parseIpv6Address(addrs.srcAddr);
    dst = addrs.dstAddr === undefined ? undefined : parseIpv6Address(addrs.dstAddr);
  } catch {
    return fail('bad-address');
  }
  const verify = opts?.verifyChecksum === true && dst !== undefined ? () => tcpChecksumIpv6(src, dst, segment, 0, segment.length) === 0 : undefined;
  return decodeTcpRange(segment, 0, segment.length, formatIpv6Address(src), dst === undefined ? '' : formatIpv6Address(dst), verify);
}

/** The TCP segment at bytes[tcp, end): header, options, payload length. */
function decodeTcpRange(bytes: Uint8Array, tcp: number, end: number, srcAddr: string, dstAddr: string, verify: (() => boolean) | undefined): DecodeResult {
  const segmentLength = end - tcp;
  if (segmentLength < TCP_MIN_HEADER) return fail('truncated-tcp');
  const tcpHeaderLength = (bytes[tcp + 12]! >> 4) * 4;
  if (tcpHeaderLength < TCP_MIN_HEADER || tcpHeaderLength > segmentLength) return fail('bad-data-offset');
  if (verify !== undefined && !verify()) return fail('bad-checksum');

  const options = parseTcpOptionsRange(bytes, tcp + TCP_MIN_HEADER, tcp + tcpHeaderLength);
  if (options === null) return fail('bad-option');

  return {
    ok: true,
    segment: {
      srcAddr,
      dstAddr,
      srcPort: readU16(bytes, tcp),
      dstPort: readU16(bytes, tcp + 2),
      seq: readU32(bytes, tcp + 4),
      ack: readU32(bytes, tcp + 8),
      flags: bytes[tcp + 13]!,
      window: readU16(bytes, tcp + 14),
      options,
      payloadLength: segmentLength - tcpHeaderLength,
    },
  };
}
