// The load benchmark's two text readers: wrk's summary and /proc/net/raw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRawDrops } from '../../bench/load/proc-net-raw.js';
import { parseWrkOutput } from '../../bench/load/wrk-output.js';

const WRK = `Running 10s test @ http://127.0.0.1:44789/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    46.16ms   74.44ms 925.41ms   96.76%
    Req/Sec     1.82k   651.15     2.87k    61.00%
  18169 requests in 10.04s, 3.31MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:   1809.26
Transfer/sec:    337.47KB
`;

describe('parseWrkOutput', () => {
  it('reads requests, duration, rate, non-2xx and socket errors', () => {
    expect(parseWrkOutput(WRK)).toEqual({ requests: 18169, durationS: 10.04, requestsPerSec: 1809.26, non2xx3xx: 7, socketErrors: 5 });
  });

  it('counts absent error lines as 0, and reads other duration units', () => {
    const text = WRK.replace(/ {2}Socket errors.*\n/, '').replace(/ {2}Non-2xx.*\n/, '').replace('in 10.04s', 'in 1.50m');
    expect(parseWrkOutput(text)).toMatchObject({ durationS: 90, non2xx3xx: 0, socketErrors: 0 });
  });

  it('is undefined for a failed run, and never throws on hostile text', () => {
    expect(parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n')).toBeUndefined();
    fc.assert(fc.property(fc.string({ maxLength: 400 }), (t) => {
      expect(() => parseWrkOutput(t)).not.toThrow();
    }));
  });
});

describe('parseRawDrops', () => {
  const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n';
  const line = (drops: number) => `    6: 00000000:0006 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 123456 2 0000000000000000 ${drops}\n`;

  it('sums the drops column over the sockets, skipping the header', () => {
    expect(parseRawDrops(HEADER + line(49291) + line(9))).toBe(49300);
    expect(parseRawDrops(HEADER)).toBe(0);
  });

  it('ignores short or garbled lines', () => {
    expect(parseRawDrops(`${HEADER}garbage\n${line(4)}`)).toBe(4);
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (t) => {
      expect(Number.isFinite(parseRawDrops(t))).toBe(true);
    }));
  });
});
