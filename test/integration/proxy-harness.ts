// Shared by test/integration/proxy-*.test.ts: real servers on 127.0.0.1, a proxy in front.
import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { AcceleratedAgent, type AcceleratedAgentOptions } from '../../src/proxy/accelerated-agent.js';
import { createProxyServer, type ProxyServer, type ProxyServerOptions, type RequestRecord } from '../../src/proxy/proxy-server.js';
import { resolveUpstream } from '../../src/config/load-config.js';

export interface Upstream {
  server: http.Server;
  port: number;
  url: string;
  /** Distinct client ports seen, one per TCP connection. */
  connections: Set<number>;
  close(): Promise<void>;
}

export async function startUpstream(handler: RequestListener): Promise<Upstream> {
  const connections = new Set<number>();
  const server = http.createServer((req, res) => {
    connections.add(req.socket.remotePort ?? 0);
    handler(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    connections,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}

/** Echoes method, url and the received headers as JSON; streams the request body back when ?echo. */
export const echoHandler: RequestListener = (req: IncomingMessage, res: ServerResponse) => {
  if (req.url?.startsWith('/echo')) {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-method': req.method ?? '' });
    req.pipe(res);
    return;
  }
  let bytes = 0;
  req.on('data', (c: Buffer) => (bytes += c.length));
  req.on('end', () => {
    const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bytes });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
};

export interface Proxied {
  proxy: ProxyServer;
  agent: AcceleratedAgent;
  port: number;
  records: RequestRecord[];
  close(): Promise<void>;
}

export async function startProxy(
  upstreamUrl: string,
  options: { agent?: AcceleratedAgentOptions; server?: Partial<Omit<ProxyServerOptions, 'upstream' | 'dispatcher'>> } = {},
): Promise<Proxied> {
  const agent = new AcceleratedAgent({ connectTimeoutMs: 2_000, ...options.agent });
  const upstream = await resolveUpstream(upstreamUrl);
  const proxy = createProxyServer({ upstream, dispatcher: agent, ...options.server });
  const records: RequestRecord[] = [];
  proxy.on('request', (r) => records.push(r));
  const { port } = await proxy.listen(0, '127.0.0.1');
  return {
    proxy,
    agent,
    port,
    records,
    close: async () => {
      await proxy.close(1_000);
      await agent.destroy();
    },
  };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  socketPort: number;
}

/** A client request through node:http with a keep-alive agent the test owns. */
export async function request(
  port: number,
  opts: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | string | AsyncIterable<Buffer>; agent?: http.Agent },
): Promise<RawResponse> {
  const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: opts.headers, agent: opts.agent ?? false });
  const responded = once(req, 'response') as Promise<[IncomingMessage]>;
  if (opts.body === undefined) req.end();
  else if (typeof opts.body === 'string' || Buffer.isBuffer(opts.body)) req.end(opts.body);
  else {
    for await (const chunk of opts.body) {
      if (!req.write(chunk)) await once(req, 'drain');
    }
    req.end();
  }
  const [res] = await responded;
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), socketPort: req.socket?.localPort ?? 0 };
}

/** Writes raw bytes on a fresh TCP connection and collects everything until the peer closes. */
export async function rawExchange(port: number, bytes: string, timeoutMs = 3_000): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(bytes);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await Promise.race([
    once(socket, 'close'),
    new Promise((r) => setTimeout(r, timeoutMs)),
  ]);
  socket.destroy();
  return Buffer.concat(chunks).toString('latin1');
}

/** A TCP port on 127.0.0.1 with nothing listening. */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  s.close();
  await once(s, 'close');
  return port;
}

/**
 * A listener whose accept queue is full: the kernel drops further SYNs, so a connect
 * to it hangs until the client's timeout. The listener lives in a worker thread whose
 * event loop is blocked, so it never accepts.
 */
export async function saturatedListener(): Promise<{ port: number; close(): Promise<void> }> {
  const { Worker } = await import('node:worker_threads');
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const server = require('node:net').createServer();
     server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(server.address().port);
       parentPort.once('message', () => { while (Atomics.load(workerData, 0) === 0) Atomics.wait(workerData, 0, 0, 100); server.close(); });
     });`,
    { eval: true, workerData: flag },
  );
  const [port] = (await once(worker, 'message')) as [number];
  worker.postMessage('block');
  await new Promise((r) => setTimeout(r, 20));
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 4; i++) fillers.push(net.connect(port, '127.0.0.1').on('error', () => undefined));
  await new Promise((r) => setTimeout(r, 50));
  return {
    port,
    close: async () => {
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      for (const s of fillers) s.destroy();
      await worker.terminate();
    },
  };
}
