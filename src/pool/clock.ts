import { performance } from 'node:perf_hooks';

/** Opaque handle of a scheduled callback. */
export type TimerHandle = object;

/**
 * Time as the pool sees it: a monotonic millisecond counter and one-shot
 * timers. Injected so the pool state machine runs under a fake clock in tests.
 */
export interface Clock {
  /** Monotonic milliseconds (same origin as `performance.now()` for the real clock). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** performance.now and Node timers; timers are unref()ed so a pool never keeps the process alive. */
export const realClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return t;
  },
  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
});

interface FakeTimer {
  readonly seq: number;
  readonly dueAt: number;
  readonly fn: () => void;
}

/**
 * A clock that only moves when told to. `advance(ms)` fires every timer that
 * falls due on the way, in due-time order (ties in scheduling order), with
 * `now()` set to each timer's due time while it runs.
 */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly timers = new Map<TimerHandle, FakeTimer>();

  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = {};
    this.timers.set(handle, { seq: this.seq++, dueAt: this.current + Math.max(0, ms), fn });
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle);
  }

  /** Timers not yet fired. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing due timers in order (including ones they schedule). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance(${ms}): ms must be >= 0`);
    const until = this.current + ms;
    for (;;) {
      let next: [TimerHandle, FakeTimer] | undefined;
      for (const pair of this.timers) {
        const t = pair[1];
        if (t.dueAt > until) continue;
        if (next === undefined || t.dueAt < next[1].dueAt || (t.dueAt === next[1].dueAt && t.seq < next[1].seq)) next = pair;
      }
      if (next === undefined) break;
      this.timers.delete(next[0]);
      this.current = Math.max(this.current, next[1].dueAt);
      next[1].fn();
    }
    this.current = until;
  }
}
