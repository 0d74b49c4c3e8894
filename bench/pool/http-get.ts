// One `GET / HTTP/1.1` with `Connection: close`, written by hand so the timing
// is the wire's: no http.Agent, no parser before the first byte.
import net, { type Socket } from 'node:net';

export interface GetResult {
  /** HTTP status from the status line (0 when none came). */
  readonly status: number;
  /** From `startedAt` to the first response byte, ms. */
  readonly ttfbMs: number;
  readonly totalMs: number;
}

/**
 * Sends the request over `socket` (a handed-off connection; written at once)
 * or over a new plain connection to host:port. Rejects with the socket's
 * error, or after `timeoutMs`.
 */
export function httpGet(o: { host: string; port: number; socket?: Socket; startedAt: number; timeoutMs: number }): Promise<GetResult> {
  return new Promise((resolve, reject) => {
    const socket = o.socket ?? net.connect({ host: o.host, port: o.port, noDelay: true });
    let head = '';
    let ttfbMs = -1;
    let settled = false;
    const finish = (err: Error | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) return reject(err);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({ status: m?.[1] === undefined ? 0 : Number(m[1]), ttfbMs, totalMs: performance.now() - o.startedAt });
    };
    const timer = setTimeout(() => finish(new Error(`no complete response within ${o.timeoutMs} ms`)), o.timeoutMs);
    socket.on('error', finish);
    socket.on('data', (chunk: Buffer) => {
      if (ttfbMs < 0) ttfbMs = performance.now() - o.startedAt;
      if (head.length < 64) head += chunk.toString('latin1', 0, Math.min(chunk.length, 64));
    });
    socket.on('end', () => finish(undefined));
    socket.on('close', () => finish(ttfbMs < 0 ? new Error('connection closed before any response byte') : undefined));
    socket.setNoDelay(true);
    socket.write(`GET / HTTP/1.1\r\nHost: ${o.host}:${o.port}\r\nConnection: close\r\n\r\n`);
  });
}
