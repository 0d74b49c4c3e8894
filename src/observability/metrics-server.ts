import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsServerOptions {
  registry: Registry;
  /** /readyz answers 200 while this returns true (listening and not draining), else 503. */
  ready: () => boolean;
  /** What /metrics answers (a worker: the aggregate over every synpool process); default the registry's text. */
  text?: () => Promise<string>;
}

/** GET /metrics (Prometheus text), /healthz (the process runs), /readyz (accepting traffic). */
export function createMetricsServer(options: MetricsServerOptions): http.Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      (options.text ?? (() => options.registry.metrics()))().then(
        (text) => {
          res.writeHead(200, { 'content-type': options.registry.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`${err.message}\n`);
        },
      );
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const ready = options.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
}

/** Listens on PORT and HOST, or on an inherited listening socket ({ fd }). */
export async function listenOn(server: http.Server, port: number | { fd: number }, host?: string): Promise<AddressInfo> {
  if (typeof port === 'number') server.listen(port, host);
  else server.listen(port);
  await once(server, 'listening');
  return server.address() as AddressInfo;
}
