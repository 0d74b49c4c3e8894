// A captured TCP segment, reduced to what the own-time computation needs:
// when, which connection, which flags, and the first bytes of its payload.
import { decodeIpv4Tcp } from '../../src/packet/index.js';
import { TCP_FLAGS } from '../../src/packet/tcp-flags.js';
import type { PcapFrame } from './pcap-reader.js';

export interface CapturedSegment {
  /** µs since the epoch. */
  tUs: number;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  syn: boolean;
  ack: boolean;
  fin: boolean;
  rst: boolean;
  payloadLength: number;
  /** The payload's first bytes (latin1), enough for an HTTP request line. */
  head: string;
}

/** Payload bytes kept per segment: a request line with a long path fits. */
const HEAD_BYTES = 96;

/** The TCP segments among `frames`; other frames and undecodable ones are skipped (counted in `skipped`). */
export function tcpSegmentsOf(frames: readonly PcapFrame[]): { segments: CapturedSegment[]; skipped: number; truncated: number } {
  const segments: CapturedSegment[] = [];
  let skipped = 0;
  let truncated = 0;
  for (const f of frames) {
    if (!f.ip) {
      skipped++;
      continue;
    }
    const d = decodeIpv4Tcp(f.ip);
    if (!d.ok) {
      if (d.reason === 'bad-total-length') truncated++;
      else skipped++;
      continue;
    }
    const s = d.segment;
    const totalLength = (f.ip[2]! << 8) | f.ip[3]!;
    const payloadStart = totalLength - s.payloadLength;
    segments.push({
      tUs: f.tUs,
      src: s.srcAddr,
      sport: s.srcPort,
      dst: s.dstAddr,
      dport: s.dstPort,
      syn: (s.flags & TCP_FLAGS.SYN) !== 0,
      ack: (s.flags & TCP_FLAGS.ACK) !== 0,
      fin: (s.flags & TCP_FLAGS.FIN) !== 0,
      rst: (s.flags & TCP_FLAGS.RST) !== 0,
      payloadLength: s.payloadLength,
      head: Buffer.from(f.ip.subarray(payloadStart, Math.min(totalLength, payloadStart + HEAD_BYTES))).toString('latin1'),
    });
  }
  return { segments, skipped, truncated };
}
