// Matches each request across the two sides of a proxy in one packet capture
// and computes the proxy's own time: what it spends on a request while not
// waiting on the network. Pure: segments in, records out.
//
// Per request (every request carries a unique path, /own-time/N, read from
// the captured payload on both sides, so matching is checked, not assumed):
//
//   request in    last client → proxy payload segment of the request's client
//                 connection that precedes the proxy's first upstream action
//   SYN out       (plain connect) the proxy's first SYN on the upstream
//                 connection after request in
//   SYN-ACK in    the upstream's first SYN-ACK after that SYN
//   data out      the first proxy → upstream payload segment whose payload
//                 starts with the same request line (same path)
//   response in   the upstream's first payload segment on that connection
//                 after data out
//   response out  the proxy's first payload segment to the client connection
//                 after request in
//
//   request path  = (SYN out − request in) + (data out − SYN-ACK in)   plain connect
//                 = data out − request in                             pooled / reused
//   response path = response out − response in
//   own time      = request path + response path
//
// The waits subtracted are the link's and the upstream's: SYN → SYN-ACK (one
// round trip) and data out → response in (a round trip plus the upstream's
// own work). Without an upstream (the floor: a server answering from memory)
// own time = response out − request in.
import type { CapturedSegment } from './captured-segment.js';

export interface Endpoint {
  addr: string;
  port: number;
}

/** What the computation reads of a captured segment. */
export type OwnTimeSegment = Pick<CapturedSegment, 'tUs' | 'src' | 'sport' | 'dst' | 'dport' | 'syn' | 'ack' | 'payloadLength' | 'head'>;

/** How the proxy reached the upstream for this request. */
export type UpstreamConnection = 'plain' | 'pool' | 'reused';

export interface OwnTimeRecord {
  /** The N of /own-time/N. */
  id: number;
  frontPort: number;
  /** Client side `addr:port` of the client's connection. */
  client: string;
  /** Proxy side `addr:port` of the upstream connection (undefined without an upstream). */
  upstreamLocal: string | undefined;
  connection: UpstreamConnection | undefined;
  /** ms; undefined without an upstream. */
  requestMs: number | undefined;
  responseMs: number | undefined;
  totalMs: number;
  /** The request path's parts: request in → first upstream segment (SYN or data), SYN-ACK in → data out (plain only). */
  toFirstUpstreamMs: number | undefined;
  afterSynAckMs: number | undefined;
  /** Handshake round trip (plain connects) and data out → response in, ms: the waits subtracted. */
  connectWaitMs: number | undefined;
  upstreamWaitMs: number | undefined;
  /** Request in, µs since the epoch (for ordering and reports). */
  requestInUs: number;
  /** Upstream payload segments carrying this request line (> 1: retried). */
  attempts: number;
}

export interface Unmatched {
  id: number | undefined;
  frontPort: number;
  reason: string;
}

export interface OwnTimeResult {
  records: OwnTimeRecord[];
  unmatched: Unmatched[];
}

const REQUEST_LINE = /^[A-Z]+ \/own-time\/(\d+)[ ?]/;

const key = (addr: string, port: number): string => `${addr}:${port}`;

/** The request id in a payload head, or undefined when it is not one of ours. */
export function requestIdOf(head: string): number | undefined {
  const m = REQUEST_LINE.exec(head);
  return m ? Number(m[1]) : undefined;
}

/**
 * Own time of every request sent to `frontPort` in `segments` (any order).
 * `upstream` undefined: the front port is a server itself (client side only).
 */
export function computeOwnTime(segments: readonly OwnTimeSegment[], frontPort: number, upstream: Endpoint | undefined): OwnTimeResult {
  const segs = [...segments].sort((a, b) => a.tUs - b.tUs);
  const records: OwnTimeRecord[] = [];
  const unmatched: Unmatched[] = [];

  // Indexes, so that each request looks only at its own connections.
  const toFront = new Map<string, OwnTimeSegment[]>();
  const fromFront = new Map<string, OwnTimeSegment[]>();
  const upstreamConn = new Map<string, OwnTimeSegment[]>();
  const upstreamRequests = new Map<number, OwnTimeSegment[]>();
  const requests: Array<{ id: number; first: OwnTimeSegment; client: string }> = [];
  const push = <K>(m: Map<K, OwnTimeSegment[]>, k: K, s: OwnTimeSegment): void => {
    const list = m.get(k);
    if (list) list.push(s);
    else m.set(k, [s]);
  };
  const isUp = (s: OwnTimeSegment): boolean => upstream !== undefined && s.dst === upstream.addr && s.dport === upstream.port;
  const isDown = (s: OwnTimeSegment): boolean => upstream !== undefined && s.src === upstream.addr && s.sport === upstream.port;
  for (const s of segs) {
    if (s.dport === frontPort && s.payloadLength > 0) {
      push(toFront, key(s.src, s.sport), s);
      const id = requestIdOf(s.head);
      if (id !== undefined) requests.push({ id, first: s, client: key(s.src, s.sport) });
    } else if (s.sport === frontPort && s.payloadLength > 0) {
      push(fromFront, key(s.dst, s.dport), s);
    } else if (isUp(s)) {
      push(upstreamConn, key(s.src, s.sport), s);
      const id = s.payloadLength > 0 ? requestIdOf(s.head) : undefined;
      if (id !== undefined) push(upstreamRequests, id, s);
    } else if (isDown(s)) {
      push(upstreamConn, key(s.dst, s.dport), s);
    }
  }
  const seen = new Set<number>();

  for (const r of requests) {
    if (seen.has(r.id)) {
      unmatched.push({ id: r.id, frontPort, reason: 'the same /own-time id was sent twice' });
      continue;
    }
    seen.add(r.id);
    const clientSegs = (toFront.get(r.client) ?? []).filter((s) => s.tUs >= r.first.tUs);
    const responseOut = (fromFront.get(r.client) ?? []).find((s) => s.tUs >= r.first.tUs);
    if (!responseOut) {
      unmatched.push({ id: r.id, frontPort, reason: 'no response to the client in the capture' });
      continue;
    }
    /** The request's last byte in before `t`. */
    const requestInBefore = (t: number): number => clientSegs.filter((s) => s.tUs <= t).at(-1)?.tUs ?? r.first.tUs;

    if (!upstream) {
      const inUs = requestInBefore(responseOut.tUs);
      records.push({
        id: r.id, frontPort, client: r.client, upstreamLocal: undefined, connection: undefined,
        requestMs: undefined, responseMs: undefined, totalMs: (responseOut.tUs - inUs) / 1e3,
        toFirstUpstreamMs: undefined, afterSynAckMs: undefined,
        connectWaitMs: undefined, upstreamWaitMs: undefined, requestInUs: inUs, attempts: 0,
      });
      continue;
    }

    const dataOuts = (upstreamRequests.get(r.id) ?? []).filter((s) => s.tUs >= r.first.tUs);
    const dataOut = dataOuts[0];
    if (!dataOut) {
      unmatched.push({ id: r.id, frontPort, reason: `no request line for /own-time/${r.id} toward the upstream` });
      continue;
    }
    const local = key(dataOut.src, dataOut.sport);
    const onConn = upstreamConn.get(local) ?? [];
    const synOut = onConn.find((s) => isUp(s) && s.syn && !s.ack && s.tUs >= r.first.tUs && s.tUs <= dataOut.tUs);
    // A local port can be used again by a later connection: "earlier data" counts only since this connection's SYN.
    const lastSyn = onConn.filter((s) => isUp(s) && s.syn && !s.ack && s.tUs <= dataOut.tUs).at(-1);
    const earlierData = onConn.some((s) => isUp(s) && s.payloadLength > 0 && s.tUs < dataOut.tUs && s.tUs > (lastSyn?.tUs ?? -Infinity));
    const responseIn = onConn.find((s) => isDown(s) && s.payloadLength > 0 && s.tUs > dataOut.tUs);
    if (!responseIn) {
      unmatched.push({ id: r.id, frontPort, reason: `no response from the upstream on ${local}` });
      continue;
    }
    if (responseOut.tUs < responseIn.tUs) {
      unmatched.push({ id: r.id, frontPort, reason: 'the client got response bytes before the upstream sent any' });
      continue;
    }

    let requestUs: number;
    let afterSynAckMs: number | undefined;
    let connectWaitMs: number | undefined;
    let inUs: number;
    let connection: UpstreamConnection;
    if (synOut) {
      const synAckIn = onConn.find((s) => isDown(s) && s.syn && s.ack && s.tUs >= synOut.tUs);
      if (!synAckIn || synAckIn.tUs > dataOut.tUs) {
        unmatched.push({ id: r.id, frontPort, reason: `no SYN-ACK between SYN and data on ${local}` });
        continue;
      }
      inUs = requestInBefore(synOut.tUs);
      requestUs = synOut.tUs - inUs + (dataOut.tUs - synAckIn.tUs);
      connectWaitMs = (synAckIn.tUs - synOut.tUs) / 1e3;
      afterSynAckMs = (dataOut.tUs - synAckIn.tUs) / 1e3;
      connection = 'plain';
    } else {
      inUs = requestInBefore(dataOut.tUs);
      requestUs = dataOut.tUs - inUs;
      connection = earlierData ? 'reused' : 'pool';
    }
    const responseUs = responseOut.tUs - responseIn.tUs;
    records.push({
      id: r.id, frontPort, client: r.client, upstreamLocal: local, connection,
      requestMs: requestUs / 1e3, responseMs: responseUs / 1e3, totalMs: (requestUs + responseUs) / 1e3,
      toFirstUpstreamMs: ((synOut ?? dataOut).tUs - inUs) / 1e3, afterSynAckMs,
      connectWaitMs, upstreamWaitMs: (responseIn.tUs - dataOut.tUs) / 1e3, requestInUs: inUs, attempts: dataOuts.length,
    });
  }
  return { records, unmatched };
}

/** Ids in `sent` with no record: each becomes an Unmatched (reason: not in the capture at all, or the one given). */
export function missingIds(sent: readonly number[], result: OwnTimeResult, frontPort: number): Unmatched[] {
  const have = new Set(result.records.map((r) => r.id));
  const known = new Set(result.unmatched.map((u) => u.id));
  return sent.filter((id) => !have.has(id) && !known.has(id)).map((id) => ({ id, frontPort, reason: 'request not seen on the client side of the capture' }));
}
