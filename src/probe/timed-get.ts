import http from 'node:http';
import type { Socket } from 'node:net';

export interface TimedGet {
  status: number;
  bytes: number;
  /** From the start to the response head, ms. */
  ttfbMs: number;
  /** From the start to the end of the body, ms. */
  totalMs: number;
  /** From the start to TCP connect, ms (plain connections only). */
  connectMs?: number;
}

export interface TimedGetOptions {
  host: string;
  port: number;
  path: string;
  hostHeader: string;
  timeoutMs: number;
  /** Use this socket instead of connecting. */
  socket?: Socket;
  /** performance.now() the timing starts from; default: now. */
  startedAt?: number;
}

/** One GET with `Connection: close`, timed from `startedAt` to head and to the end of the body. */
export function timedGet(o: TimedGetOptions): Promise<TimedGet> {
  const start = o.startedAt ?? performance.now();
  return new Promise((resolve, reject) => {
    let connectMs: number | undefined;
    const req = http.request({
      host: o.host,
      port: o.port,
      path: o.path,
      method: 'GET',
      // With an agent (even agent: false) Node ignores createConnection and dials a new socket.
      ...(o.socket ? {} : { agent: false }),
      headers: { host: o.hostHeader, connection: 'close', 'user-agent': 'synpool-probe' },
      ...(o.socket ? { createConnection: () => o.socket as Socket } : {}),
    });
    const timer = setTimeout(() => req.destroy(new Error(`no complete response within ${o.timeoutMs} ms`)), o.timeoutMs);
    req.on('socket', (s) => {
      if (!o.socket) s.once('connect', () => (connectMs = performance.now() - start));
    });
    req.on('response', (res) => {
      const ttfbMs = performance.now() - start;
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, bytes, ttfbMs, totalMs: performance.now() - start, ...(connectMs === undefined ? {} : { connectMs }) });
      });
      res.on('error', reject);
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}
