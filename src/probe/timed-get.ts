import { once } from 'node:events';
import http from 'node:http';
import net, { type Socket } from 'node:net';
import { timedTlsHandshake, type ProbeTls } from './probe-tls.js';

export interface TimedGet {
  status: number;
  bytes: number;
  /** From the start to the response head, ms. */
  ttfbMs: number;
  /** From the start to the end of the body, ms. */
  totalMs: number;
  /** From the start to TCP connect, ms (plain connections only). */
  connectMs?: number;
  /** https: the TLS handshake alone, ms (part of ttfbMs and totalMs). */
  tlsMs?: number;
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
  /** https: TLS over the connection before the GET. */
  tls?: ProbeTls;
}

/**
 * An https GET: TCP (given or connected here), then the TLS handshake, timed apart, then the
 * GET over the TLS socket; every time counts from the same start.
 */
export async function timedHttpsGet(o: TimedGetOptions & { tls: ProbeTls }): Promise<TimedGet> {
  const start = o.startedAt ?? performance.now();
  let tcp = o.socket;
  let connectMs: number | undefined;
  if (tcp === undefined) {
    tcp = net.connect({ host: o.host, port: o.port, noDelay: true });
    const timer = setTimeout(() => tcp!.destroy(new Error(`no TCP connection within ${o.timeoutMs} ms`)), o.timeoutMs);
    try {
      await once(tcp, 'connect');
    } finally {
      clearTimeout(timer);
    }
    connectMs = performance.now() - start;
  }
  const { socket, tlsMs } = await timedTlsHandshake(tcp, o.tls);
  const get = await timedGet({ ...o, tls: undefined, socket, startedAt: start });
  return { ...get, tlsMs, ...(connectMs === undefined ? {} : { connectMs }) };
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
