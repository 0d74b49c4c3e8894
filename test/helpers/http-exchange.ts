import http from 'node:http';
import type { Socket } from 'node:net';

export interface Exchange {
  status: number;
  body: Buffer;
  bytes: number;
  ttfbMs: number;
  totalMs: number;
}

/**
 * One HTTP/1.1 request with `Connection: close`, over `socket` when given
 * (a handed-off connection), else over a fresh plain connect. `upload` bytes
 * are streamed as the body. Keeps at most `keep` bytes of the response body.
 */
export function exchange(o: {
  host: string;
  port: number;
  method?: string;
  path: string;
  socket?: Socket;
  upload?: number;
  keep?: number;
  timeoutMs?: number;
  startedAt?: number;
}): Promise<Exchange> {
  const start = o.startedAt ?? performance.now();
  const keep = o.keep ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: o.host,
      port: o.port,
      method: o.method ?? 'GET',
      path: o.path,
      // With an agent (even agent: false) Node ignores createConnection and dials a new socket.
      ...(o.socket ? {} : { agent: false }),
      headers: { connection: 'close', ...(o.upload !== undefined ? { 'content-length': String(o.upload) } : {}) },
      ...(o.socket ? { createConnection: () => o.socket as Socket } : {}),
    });
    const timer = setTimeout(() => req.destroy(new Error(`no response within ${o.timeoutMs ?? 20_000} ms`)), o.timeoutMs ?? 20_000);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      const ttfbMs = performance.now() - start;
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        if (bytes < keep) chunks.push(c.subarray(0, keep - bytes));
        bytes += c.length;
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), bytes, ttfbMs, totalMs: performance.now() - start });
      });
    });
    if (o.upload) {
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let left = o.upload;
      const pump = (): void => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    } else {
      req.end();
    }
  });
}
