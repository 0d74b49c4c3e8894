// The fast paths around raw-socket's JS layer: order and fallbacks, against
// an object shaped like raw-socket's internals (the syscalls themselves run
// for real in the integration tests).
import { EventEmitter } from 'node:events';
import type { RawSocket } from 'raw-socket';
import { describe, expect, it } from 'vitest';
import { DRAIN_BATCH, drainInBatches, sendNow } from '../../src/handshake/raw-socket-io.js';

const EAGAIN = (): Error => new Error('Resource temporarily unavailable');

/** raw-socket's Socket as far as raw-socket-io reads it: a native `wrap` with synchronous recv/send, a queue. */
function fakeSocket(opts: { inbound?: Buffer[]; sendFails?: () => Error | undefined } = {}) {
  const wrap = new EventEmitter() as EventEmitter & Record<string, unknown>;
  const wire: string[] = [];
  const queued: string[] = [];
  let recvCalls = 0;
  wrap.recv = (buffer: Buffer, cb: (b: Buffer, n: number) => void) => {
    recvCalls++;
    const next = opts.inbound?.shift();
    if (next === undefined) throw EAGAIN();
    next.copy(buffer);
    cb(buffer, next.length);
  };
  wrap.send = (buf: Buffer, off: number, len: number, _addr: string, cb: (n: number) => void) => {
    const err = opts.sendFails?.();
    if (err) throw err;
    wire.push(buf.subarray(off, off + len).toString());
    cb(len);
  };
  const socket = {
    wrap,
    buffer: Buffer.alloc(256),
    requests: [] as unknown[],
    send(buf: Buffer, _o: number, _l: number, _a: string, cb: (err: Error | null) => void) {
      socket.requests.push(buf);
      queued.push(buf.toString());
      cb(null);
    },
  };
  return { socket: socket as unknown as RawSocket, raw: socket, wrap, wire, queued, recvCalls: () => recvCalls };
}

describe('drainInBatches', () => {
  it('reads until EAGAIN in one wakeup, and at most DRAIN_BATCH packets', () => {
    const inbound = Array.from({ length: DRAIN_BATCH + 5 }, (_, i) => Buffer.from(`p${i}`));
    const f = fakeSocket({ inbound });
    const seen: string[] = [];
    const errors: Error[] = [];
    const drain = drainInBatches(f.socket, (p) => seen.push(p.toString()), (e) => errors.push(e));
    expect(drain).toBeTypeOf('function');
    f.wrap.emit('recvReady');
    expect(seen).toHaveLength(DRAIN_BATCH);
    expect(drain!()).toBe(true); // the rest: read synchronously (or on the next wakeup), then EAGAIN
    expect(seen).toHaveLength(DRAIN_BATCH + 5);
    expect(seen.at(-1)).toBe(`p${DRAIN_BATCH + 4}`);
    expect(errors).toEqual([]);
  });

  it('reports a real receive error, not EAGAIN', () => {
    const f = fakeSocket();
    (f.wrap as Record<string, unknown>).recv = () => {
      throw new Error('Bad file descriptor');
    };
    const errors: Error[] = [];
    drainInBatches(f.socket, () => undefined, (e) => errors.push(e));
    f.wrap.emit('recvReady');
    expect(errors.map((e) => e.message)).toEqual(['Bad file descriptor']);
  });

  it('declines a socket without the expected internals', () => {
    expect(drainInBatches({} as RawSocket, () => undefined, () => undefined)).toBeUndefined();
  });
});

describe('sendNow', () => {
  it('sends synchronously when nothing is queued', () => {
    const f = fakeSocket();
    const done: (Error | null)[] = [];
    sendNow(f.socket, Buffer.from('syn'), '10.0.0.2', (e) => done.push(e));
    expect(f.wire).toEqual(['syn']);
    expect(done).toEqual([null]);
  });

  it('falls back to the queue on EAGAIN, and keeps later segments behind it (a SYN before its RST)', () => {
    let full = true;
    const f = fakeSocket({ sendFails: () => (full ? EAGAIN() : undefined) });
    sendNow(f.socket, Buffer.from('syn'), '10.0.0.2', () => undefined);
    full = false;
    sendNow(f.socket, Buffer.from('rst'), '10.0.0.2', () => undefined);
    expect(f.wire).toEqual([]);
    expect(f.queued).toEqual(['syn', 'rst']);
  });

  it('reports other send errors', () => {
    const f = fakeSocket({ sendFails: () => new Error('Operation not permitted') });
    const done: (Error | null)[] = [];
    sendNow(f.socket, Buffer.from('syn'), '10.0.0.2', (e) => done.push(e));
    expect(done.map((e) => e?.message)).toEqual(['Operation not permitted']);
    expect(f.queued).toEqual([]);
  });
});
