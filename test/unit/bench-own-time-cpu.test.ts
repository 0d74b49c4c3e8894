// The cold modes' CPU windows (bench/own-time/cpu-windows.ts) and the scheduler-clock
// reader behind them (bench/harness/proc-cpu.ts).
import { describe, expect, it } from 'vitest';
import { CpuWindows, cpuLine, diffByProcess } from '../../bench/own-time/cpu-windows.js';
import { parseSchedstatRunNs, processRunMs } from '../../bench/harness/proc-cpu.js';

describe('CPU windows', () => {
  it('diffByProcess: only processes read both times, never negative', () => {
    expect(diffByProcess({ main: 1, keeper: 10, 'worker 1': 5 }, { main: 1.5, keeper: 9, 'worker 2': 3 })).toEqual({ main: 0.5, keeper: 0 });
  });

  it('sums the windows per process and divides by the requests they covered; the whole mode from its own two reads', async () => {
    const reads = [
      { main: 0, worker: 100, keeper: 50 }, // mode start
      { main: 0, worker: 110, keeper: 52 }, // window 1 (4 requests)
      { main: 0, worker: 118, keeper: 56 },
      { main: 0, worker: 130, keeper: 70 }, // idle gap: refreshes
      { main: 0, worker: 134, keeper: 71 }, // window 2 (4 requests)
      { main: 0, worker: 142, keeper: 73 },
      { main: 1, worker: 150, keeper: 90 }, // mode end
    ];
    let n = 0;
    const w = new CpuWindows(() => reads[n++]);
    w.modeStarted();
    n = 1;
    await w.around(4, () => Promise.resolve());
    n = 4;
    await w.around(4, () => Promise.resolve());
    w.modeEnded();
    const s = w.summary()!;
    expect(s.requests).toBe(8);
    // worker: (118 − 110) + (142 − 134) = 16 over 8; keeper: 4 + 2 = 6 over 8.
    expect(s.inFlightByProcess).toEqual({ main: 0, worker: 2, keeper: 0.75 });
    expect(s.inFlightMs).toBe(2.75);
    expect(s.wholeModeByProcess).toEqual({ main: 1 / 8, worker: 50 / 8, keeper: 40 / 8 });
    expect(cpuLine('synpool', s)).toBe('synpool 2.75 / 11.38 (worker 2.00 / 6.25, keeper 0.75 / 5.00, main 0.00 / 0.13)');
  });

  it('nothing to say without a reader, or when a window could not be read', async () => {
    expect(new CpuWindows(undefined).summary()).toBeUndefined();
    let first = true;
    const w = new CpuWindows(() => (first ? ((first = false), { main: 1 }) : undefined));
    await w.around(1, () => Promise.resolve());
    expect(w.summary()).toBeUndefined();
  });

  it('one process: no split in the line', async () => {
    let t = 0;
    const w = new CpuWindows(() => ({ main: (t += 0.5) }));
    await w.around(2, () => Promise.resolve());
    expect(cpuLine('node:http floor', w.summary()!)).toBe('node:http floor 0.25 / –');
  });
});

describe('schedstat', () => {
  it('the first field is the time on a CPU, ns; anything else is undefined', () => {
    expect(parseSchedstatRunNs('2455383 510694 1\n')).toBe(2455383);
    expect(parseSchedstatRunNs('')).toBeUndefined();
    expect(parseSchedstatRunNs('x 1 2')).toBeUndefined();
  });

  it('this process: every thread summed, growing with work, in ms', () => {
    const a = processRunMs(process.pid)!;
    let x = 0;
    for (let i = 0; i < 5e6; i++) x += i % 7;
    const b = processRunMs(process.pid)!;
    expect(x).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(a);
    expect(processRunMs(2 ** 22 + 12345)).toBeUndefined();
  });
});
