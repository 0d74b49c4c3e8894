import { encodeTcpSegment } from './encode-segment.js';
import { TCP_FLAGS } from './tcp-flags.js';

/** What a pre-handshake SYN carries. The caller must remember isn, tsVal and wscale: the TCP_REPAIR handoff replays them. */
export interface SynSpec {
  srcAddr: string;
  dstAddr: string;
  srcPort: number;
  dstPort: number;
  isn: number;
  tsVal: number;
  mss: number;
  wscale: number;
  window: number;
}

/**
 * A SYN offering MSS, SACK, timestamps and window scale, laid out as Linux does.
 * ECN is never offered (no ECE/CWR): TCP_REPAIR_OPTIONS has no way to mark the
 * repaired socket ECN-capable, so the server and our socket would disagree.
 */
export function encodeSyn(s: SynSpec): Buffer {
  return encodeTcpSegment({
    srcAddr: s.srcAddr,
    dstAddr: s.dstAddr,
    srcPort: s.srcPort,
    dstPort: s.dstPort,
    seq: s.isn,
    ack: 0,
    flags: TCP_FLAGS.SYN,
    window: s.window,
    options: { mss: s.mss, sackPermitted: true, timestamp: { val: s.tsVal, ecr: 0 }, wscale: s.wscale },
  });
}
