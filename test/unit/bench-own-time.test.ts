import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeOwnTime, missingIds, requestIdOf, type OwnTimeSegment } from '../../bench/own-time/own-time.js';
import { tcpSegmentsOf } from '../../bench/own-time/captured-segment.js';
import { readPcap } from '../../bench/own-time/pcap-reader.js';
import { parseWrkOutput } from '../../bench/own-time/wrk-output.js';
import { encodeTcpSegment } from '../../src/packet/encode-segment.js';
import { TCP_FLAGS } from '../../src/packet/tcp-flags.js';

const FRONT = 8080;
const UP = { addr: '10.0.0.2', port: 80 };
const PROXY = '10.0.0.1';
const LO = '127.0.0.1';
const T0 = 1_700_000_000_000_000; // µs

type Seg = Partial<OwnTimeSegment> & { tMs: number; from: [string, number]; to: [string, number] };
function seg(s: Seg): OwnTimeSegment {
  return {
    tUs: T0 + s.tMs * 1000,
    src: s.from[0], sport: s.from[1], dst: s.to[0], dport: s.to[1],
    syn: s.syn ?? false, ack: s.ack ?? true, payloadLength: s.head ? s.head.length : (s.payloadLength ?? 0), head: s.head ?? '',
  };
}
const req = (id: number): string => `GET /own-time/${id} HTTP/1.1\r\nHost: x\r\n\r\n`;
const RESP = 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n';

/** A request through a plain connect: in at `t`, SYN +2, SYN-ACK +42, data +43, response in +84, out +85. */
function plainRequest(id: number, t: number, clientPort: number, localPort: number): OwnTimeSegment[] {
  const c: [string, number] = [LO, clientPort];
  const f: [string, number] = [LO, FRONT];
  const l: [string, number] = [PROXY, localPort];
  const u: [string, number] = [UP.addr, UP.port];
  return [
    seg({ tMs: t - 0.1, from: c, to: f, syn: true, ack: false }),
    seg({ tMs: t, from: c, to: f, head: req(id) }),
    seg({ tMs: t + 2, from: l, to: u, syn: true, ack: false }),
    seg({ tMs: t + 42, from: u, to: l, syn: true, ack: true }),
    seg({ tMs: t + 42.01, from: l, to: u }),
    seg({ tMs: t + 43, from: l, to: u, head: req(id) }),
    seg({ tMs: t + 83.5, from: u, to: l }),
    seg({ tMs: t + 84, from: u, to: l, head: RESP }),
    seg({ tMs: t + 85, from: f, to: c, head: RESP }),
  ];
}

/** A request on a pre-handshaked connection whose SYN went out long before: in at `t`, data +0.5, response in +41, out +41.3. */
function pooledRequest(id: number, t: number, clientPort: number, localPort: number): OwnTimeSegment[] {
  const c: [string, number] = [LO, clientPort];
  const f: [string, number] = [LO, FRONT];
  const l: [string, number] = [PROXY, localPort];
  const u: [string, number] = [UP.addr, UP.port];
  return [
    seg({ tMs: t - 900, from: l, to: u, syn: true, ack: false }),
    seg({ tMs: t - 860, from: u, to: l, syn: true, ack: true }),
    seg({ tMs: t, from: c, to: f, head: req(id) }),
    seg({ tMs: t + 0.5, from: l, to: u, head: req(id) }),
    seg({ tMs: t + 41, from: u, to: l, head: RESP }),
    seg({ tMs: t + 41.3, from: f, to: c, head: RESP }),
  ];
}

describe('own time from a capture', () => {
  it('reads the request id from a request line only', () => {
    expect(requestIdOf('GET /own-time/42 HTTP/1.1\r\n')).toBe(42);
    expect(requestIdOf('GET /own-time/7?x=1 HTTP/1.1')).toBe(7);
    expect(requestIdOf('HTTP/1.1 200 OK')).toBeUndefined();
    expect(requestIdOf('GET / HTTP/1.1')).toBeUndefined();
  });

  it('subtracts the handshake and the upstream wait on a plain connect, and takes a pooled one from request in to data out', () => {
    const segs = [...plainRequest(1, 0, 50000, 40000), ...pooledRequest(2, 1000, 50001, 40001)];
    const { records, unmatched } = computeOwnTime(segs, FRONT, UP);
    expect(unmatched).toEqual([]);
    const [plain, pooled] = records;
    expect(plain).toMatchObject({ id: 1, connection: 'plain', client: '127.0.0.1:50000', upstreamLocal: '10.0.0.1:40000', attempts: 1 });
    expect(plain!.requestMs).toBeCloseTo(2 + 1, 6); // (SYN − in) + (data − SYN-ACK)
    expect(plain!.responseMs).toBeCloseTo(1, 6);
    expect(plain!.totalMs).toBeCloseTo(4, 6);
    expect(plain!.connectWaitMs).toBeCloseTo(40, 6);
    expect(plain!.toFirstUpstreamMs).toBeCloseTo(2, 6);
    expect(plain!.afterSynAckMs).toBeCloseTo(1, 6);
    expect(plain!.upstreamWaitMs).toBeCloseTo(41, 6);
    expect(pooled).toMatchObject({ id: 2, connection: 'pool', connectWaitMs: undefined });
    expect(pooled!.requestMs).toBeCloseTo(0.5, 6);
    expect(pooled!.toFirstUpstreamMs).toBeCloseTo(0.5, 6);
    expect(pooled!.afterSynAckMs).toBeUndefined();
    expect(pooled!.responseMs).toBeCloseTo(0.3, 6);
  });

  it('matches by the request line, not by order: shuffled segments and overlapping requests give the same records', () => {
    const segs = [...plainRequest(1, 0, 50000, 40000), ...plainRequest(2, 1, 50001, 40001), ...pooledRequest(3, 1.5, 50002, 40002)];
    const expected = computeOwnTime(segs, FRONT, UP);
    expect(expected.records.map((r) => r.id)).toEqual([1, 2, 3]);
    fc.assert(
      fc.property(fc.shuffledSubarray(segs, { minLength: segs.length, maxLength: segs.length }), (shuffled) => {
        expect(computeOwnTime(shuffled, FRONT, UP)).toEqual(expected);
      }),
      { numRuns: 50 },
    );
  });

  it('calls a second request on a connection reused', () => {
    const first = pooledRequest(1, 0, 50000, 40000);
    const l: [string, number] = [PROXY, 40000];
    const u: [string, number] = [UP.addr, UP.port];
    const c: [string, number] = [LO, 50001];
    const f: [string, number] = [LO, FRONT];
    const second = [
      seg({ tMs: 100, from: c, to: f, head: req(2) }),
      seg({ tMs: 100.2, from: l, to: u, head: req(2) }),
      seg({ tMs: 141, from: u, to: l, head: RESP }),
      seg({ tMs: 141.1, from: f, to: c, head: RESP }),
    ];
    const { records } = computeOwnTime([...first, ...second], FRONT, UP);
    expect(records.map((r) => r.connection)).toEqual(['pool', 'reused']);
    expect(records[1]!.requestMs).toBeCloseTo(0.2, 6);
  });

  it('does not call a new connection reused because an earlier one had the same local port', () => {
    const first = plainRequest(1, 0, 50000, 40000);
    const again = pooledRequest(2, 2000, 50001, 40000); // its SYN goes out at 1100 ms, after the first connection ended
    const { records } = computeOwnTime([...first, ...again], FRONT, UP);
    expect(records.map((r) => r.connection)).toEqual(['plain', 'pool']);
  });

  it('without an upstream (the floor), own time is response out − request in', () => {
    const c: [string, number] = [LO, 50000];
    const f: [string, number] = [LO, FRONT];
    const segs = [seg({ tMs: 0, from: c, to: f, head: req(9) }), seg({ tMs: 0.25, from: f, to: c, head: RESP })];
    const { records } = computeOwnTime(segs, FRONT, undefined);
    expect(records).toHaveLength(1);
    expect(records[0]!.totalMs).toBeCloseTo(0.25, 6);
    expect(records[0]!.requestMs).toBeUndefined();
  });

  it('reports what it cannot match instead of guessing', () => {
    const plain = plainRequest(1, 0, 50000, 40000);
    // The upstream never saw /own-time/1: only the client side is there.
    const noUpstream = plain.filter((s) => s.sport !== 40000 && s.dport !== 40000);
    expect(computeOwnTime(noUpstream, FRONT, UP).unmatched).toEqual([{ id: 1, frontPort: FRONT, reason: 'no request line for /own-time/1 toward the upstream' }]);
    // No response toward the client.
    const noResponse = plain.filter((s) => !(s.sport === FRONT && s.payloadLength > 0));
    expect(computeOwnTime(noResponse, FRONT, UP).unmatched[0]!.reason).toBe('no response to the client in the capture');
    // A request id that was sent but never captured.
    const result = computeOwnTime(plain, FRONT, UP);
    expect(missingIds([1, 2], result, FRONT)).toEqual([{ id: 2, frontPort: FRONT, reason: 'request not seen on the client side of the capture' }]);
    // The same id twice.
    const twice = [...plainRequest(5, 0, 50000, 40000), ...plainRequest(5, 200, 50001, 40001)];
    expect(computeOwnTime(twice, FRONT, UP).unmatched.map((u) => u.reason)).toEqual(['the same /own-time id was sent twice']);
  });
});

/** An IPv4 header around a TCP segment (checksum left 0: the decoder does not verify it). */
function ipv4(src: string, dst: string, tcp: Uint8Array): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + tcp.length, 2);
  h[8] = 64;
  h[9] = 6;
  Buffer.from(src.split('.').map(Number)).copy(h, 12);
  Buffer.from(dst.split('.').map(Number)).copy(h, 16);
  return Buffer.concat([h, tcp]);
}

describe('pcap reader', () => {
  it('reads a nanosecond Linux-cooked-v2 file (what tcpdump -i any -w writes) into TCP segments', () => {
    const global = Buffer.alloc(24);
    global.writeUInt32LE(0xa1b23c4d, 0);
    global.writeUInt16LE(2, 4);
    global.writeUInt16LE(4, 6);
    global.writeUInt32LE(262144, 16);
    global.writeUInt32LE(276, 20);
    const frame = (sec: number, nsec: number, ip: Buffer, etherType = 0x0800): Buffer => {
      const sll2 = Buffer.alloc(20);
      sll2.writeUInt16BE(etherType, 0);
      const rec = Buffer.alloc(16);
      rec.writeUInt32LE(sec, 0);
      rec.writeUInt32LE(nsec, 4);
      rec.writeUInt32LE(sll2.length + ip.length, 8);
      rec.writeUInt32LE(sll2.length + ip.length, 12);
      return Buffer.concat([rec, sll2, ip]);
    };
    const payload = Buffer.from('GET /own-time/3 HTTP/1.1\r\n\r\n');
    const data = encodeTcpSegment({ srcAddr: '127.0.0.1', dstAddr: '127.0.0.1', srcPort: 50000, dstPort: FRONT, seq: 1, ack: 1, flags: TCP_FLAGS.ACK | TCP_FLAGS.PSH, window: 100, payload });
    const syn = encodeTcpSegment({ srcAddr: '10.0.0.1', dstAddr: '10.0.0.2', srcPort: 40000, dstPort: 80, seq: 9, ack: 0, flags: TCP_FLAGS.SYN, window: 100 });
    const file = Buffer.concat([
      global,
      frame(1_700_000_000, 123_456_789, ipv4('127.0.0.1', '127.0.0.1', data)),
      frame(1_700_000_001, 500, ipv4('10.0.0.1', '10.0.0.2', syn)),
      frame(1_700_000_002, 0, Buffer.alloc(28), 0x0806), // ARP: skipped
      Buffer.alloc(10), // a record cut short by a killed writer: ignored
    ]);
    const frames = readPcap(file);
    expect(frames).toHaveLength(3);
    expect(frames[0]!.tUs).toBeCloseTo(1_700_000_000_123_456.789, 2);
    const { segments, skipped, truncated } = tcpSegmentsOf(frames);
    expect({ skipped, truncated }).toEqual({ skipped: 1, truncated: 0 });
    expect(segments[0]).toMatchObject({ src: '127.0.0.1', sport: 50000, dport: FRONT, syn: false, payloadLength: payload.length });
    expect(requestIdOf(segments[0]!.head)).toBe(3);
    expect(segments[1]).toMatchObject({ src: '10.0.0.1', dst: '10.0.0.2', syn: true, ack: false, payloadLength: 0 });
  });

  it('rejects pcapng and unknown link types with a message', () => {
    expect(() => readPcap(Buffer.from('0a0d0d0a' + '00'.repeat(28), 'hex'))).toThrow(/not a pcap file/);
    const g = Buffer.alloc(24);
    g.writeUInt32LE(0xa1b2c3d4, 0);
    g.writeUInt32LE(147, 20);
    expect(() => readPcap(g)).toThrow(/unsupported link type 147/);
  });
});

describe('wrk output', () => {
  it('reads requests/s, the latency distribution and the errors', () => {
    const out = `Running 2s test @ http://127.0.0.1:21000/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.10ms  812.00us  21.30ms   93.00%
    Req/Sec    15.70k     1.10k   17.00k    80.00%
  Latency Distribution
     50%    3.95ms
     75%    4.20ms
     90%    4.60ms
     99%  750.00us
  31250 requests in 2.00s, 4.50MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  15624.50
Transfer/sec:      2.25MB
`;
    expect(parseWrkOutput(out)).toEqual({ requestsPerSec: 15624.5, requests: 31250, seconds: 2, p50Ms: 3.95, p99Ms: 0.75, errors: 7 });
    expect(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused')).toThrow(/no result/);
  });
});
