import { describe, expect, it } from 'vitest';
import type { CapturedSegment } from '../../bench/own-time/captured-segment.js';
import { httpsTimelines, median } from '../../bench/own-time/https-timeline.js';

const T0 = 1_700_000_000_000_000;
const LO = '127.0.0.1';
const ME = '10.1.2.1';
const UP = '10.1.2.2';
const PROXY = 20_000;
const ORIGIN = 18_443;

function seg(tMs: number, src: string, sport: number, dst: string, dport: number, len = 0, flags: { syn?: boolean; ack?: boolean; fin?: boolean } = {}): CapturedSegment {
  return { tUs: T0 + tMs * 1000, src, sport, dst, dport, syn: flags.syn ?? false, ack: flags.ack ?? !flags.syn, fin: flags.fin ?? false, rst: false, payloadLength: len, head: '' };
}

/** One request through the proxy: client port `cp`, upstream local port `lp`; pooled when the upstream SYN predates it. */
function request(at: number, cp: number, lp: number, pooled: boolean): { client: CapturedSegment[]; server: CapturedSegment[] } {
  const client = [
    seg(at, LO, cp, LO, PROXY, 0, { syn: true }),
    seg(at + 0.5, LO, cp, LO, PROXY, 80), // request in
    seg(at + 0.5, LO, cp, LO, PROXY, 80), // the same segment seen a second time on lo (-i any)
    ...(pooled ? [seg(at - 5000, ME, lp, UP, ORIGIN, 0, { syn: true })] : [seg(at + 1, ME, lp, UP, ORIGIN, 0, { syn: true }), seg(at + 101, UP, ORIGIN, ME, lp, 0, { syn: true, ack: true })]),
    seg(at + (pooled ? 4.5 : 103.5), ME, lp, UP, ORIGIN, 706), // ClientHello
    seg(at + (pooled ? 105.5 : 204.5), UP, ORIGIN, ME, lp, 260), // server flight
    seg(at + (pooled ? 107 : 206), ME, lp, UP, ORIGIN, 276), // Finished + request
    seg(at + (pooled ? 208 : 307), UP, ORIGIN, ME, lp, 303), // ticket
    seg(at + (pooled ? 208.5 : 307.5), UP, ORIGIN, ME, lp, 167), // response
    seg(at + (pooled ? 209.5 : 308.5), LO, PROXY, LO, cp, 120), // response out
  ];
  const server = [
    seg(at + (pooled ? 54.5 : 153.5), ME, lp, UP, ORIGIN, 706),
    seg(at + (pooled ? 55.5 : 154.5), UP, ORIGIN, ME, lp, 260),
    seg(at + (pooled ? 157 : 256), ME, lp, UP, ORIGIN, 276),
    seg(at + (pooled ? 157.5 : 256.5), UP, ORIGIN, ME, lp, 303),
  ];
  return { client, server };
}

describe('https timeline from captures', () => {
  it('splits a pooled and a plain request into their steps, matched by time, duplicates dropped', () => {
    const a = request(1_000, 40_001, 50_001, true);
    const b = request(2_000, 40_002, 50_002, false);
    // Shuffled input: the computation sorts by time.
    const rows = httpsTimelines([...b.client, ...a.client].reverse(), [...a.server, ...b.server], { proxyPort: PROXY, upstreamPort: ORIGIN });
    expect(rows.map((r) => [r.clientPort, r.upstreamLocalPort, r.connection])).toEqual([
      [40_001, 50_001, 'pool'],
      [40_002, 50_002, 'plain'],
    ]);
    const [p, q] = rows as [(typeof rows)[0], (typeof rows)[0]];
    expect(p.clientSynToRequest).toBeCloseTo(0.5);
    expect(p.requestToClientHello).toBeCloseTo(4);
    expect(p.helloRoundTrip).toBeCloseTo(101);
    expect(p.serverHello).toBeCloseTo(1);
    expect(p.flightToRequest).toBeCloseTo(1.5);
    expect(p.requestRoundTrip).toBeCloseTo(101);
    expect(p.serverRequest).toBeCloseTo(0.5);
    expect(p.responseSpread).toBeCloseTo(0.5);
    expect(p.responseToClient).toBeCloseTo(1);
    expect(p.total).toBeCloseTo(209.5);
    // Plain: the connect's round trip is inside request → ClientHello.
    expect(q.requestToClientHello).toBeCloseTo(103);
    expect(q.total).toBeCloseTo(308.5);
  });

  it('leaves out a request with no upstream connection after it, and works without a server capture', () => {
    const a = request(1_000, 40_001, 50_001, true);
    const lonely = [seg(5_000, LO, 40_009, LO, PROXY, 0, { syn: true }), seg(5_001, LO, 40_009, LO, PROXY, 80), seg(5_002, LO, PROXY, LO, 40_009, 120)];
    const rows = httpsTimelines([...a.client, ...lonely], undefined, { proxyPort: PROXY, upstreamPort: ORIGIN });
    expect(rows.map((r) => r.clientPort)).toEqual([40_001]);
    expect(rows[0]!.serverHello).toBeUndefined();
  });

  it('median: the lower middle, undefined when empty', () => {
    expect(median([])).toBeUndefined();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2);
  });
});
