import { encodeTcpSegment } from './encode-segment.js';
import { TCP_FLAGS } from './tcp-flags.js';

/**
 * A bare RST (no ACK flag, ack 0, window 0, no options), used to release a
 * server's half-open entry early. RFC 9293 §3.10.7.4: the server accepts a RST
 * whose seq is in its receive window, i.e. our ISN + 1 for a SYN_RECV entry.
 */
export function encodeRst(s: { srcAddr: string; dstAddr: string; srcPort: number; dstPort: number; seq: number }): Buffer {
  return encodeTcpSegment({
    srcAddr: s.srcAddr,
    dstAddr: s.dstAddr,
    srcPort: s.srcPort,
    dstPort: s.dstPort,
    seq: s.seq,
    ack: 0,
    flags: TCP_FLAGS.RST,
    window: 0,
  });
}
