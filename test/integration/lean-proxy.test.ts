// The own-time bench's lean HTTP floor (bench/own-time/lean-proxy.ts, built to
// dist): node:http in front, the upstream exchange written by hand over
// connections kept open. Each answer arrives whole over one upstream connection;
// hop-by-hop headers stay on their own hop; what the floor does not read is a 502
// and costs the upstream connection, never a wrong answer. On loopback, against a
// keep-alive node:http server.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ownTimeRequest } from '../../bench/own-time/request-client.js';
import { stopChild, waitForJsonLine } from '../../bench/topology/child-output.js';

const LEAN = fileURLToPath(new URL('../../dist/bench/own-time/lean-proxy.js', import.meta.url));

let upstream: http.Server;
let lean: ChildProcess;
let leanPort: number;
const upstreamConnections: number[] = [];
type Seen = { url: string | undefined; connection: string | undefined; host: string | undefined; te: string | string[] | undefined; custom: string | string[] | undefined };
const seen: Seen[] = [];

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    seen.push({ url: req.url, connection: req.headers.connection, host: req.headers.host, te: req.headers.te, custom: req.headers['x-custom'] });
    if (req.url === '/chunked') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('a');
      res.end('b');
      return;
    }
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 200_000, 'keep-alive': 'timeout=60' });
      res.end(Buffer.alloc(200_000, 7));
      return;
    }
    res.writeHead(201, { 'content-type': 'text/plain', 'content-length': 3, 'x-answer': 'yes', 'keep-alive': 'timeout=60' });
    res.end(req.method === 'HEAD' ? undefined : 'ok\n');
  });
  upstream.keepAliveTimeout = 60_000;
  upstream.on('connection', (s) => upstreamConnections.push(s.remotePort ?? 0));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as AddressInfo;
  lean = spawn(process.execPath, [LEAN, '--upstream', `127.0.0.1:${port}`, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  leanPort = (await waitForJsonLine<{ listening: number }>(lean, 10_000, 'lean proxy')).listening;
});

afterAll(async () => {
  if (lean) await stopChild(lean, 2_000);
  upstream?.closeAllConnections();
  await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function get(path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: leanPort, path, method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('lean HTTP floor', () => {
  test("answers the own-time client's requests whole over one kept upstream connection", async () => {
    const before = upstreamConnections.length;
    for (let id = 1; id <= 5; id++) {
      const r = await ownTimeRequest(leanPort, id);
      expect(r.error).toBeUndefined();
      expect(r.status).toBe(201);
    }
    expect(upstreamConnections.length - before).toBe(1);
    expect(seen.slice(-5).map((s) => s.url)).toEqual([1, 2, 3, 4, 5].map((id) => `/own-time/${id}`));
    // The client's `Connection: close` is its own hop's: the upstream is asked to keep the connection.
    expect(seen.slice(-5).every((s) => s.connection === 'keep-alive')).toBe(true);
  });

  test('forwards end-to-end headers both ways and keeps hop-by-hop ones on their hop', async () => {
    const r = await get('/headers', { headers: { 'x-custom': 'v1', te: 'trailers', connection: 'te' } });
    expect(r.status).toBe(201);
    expect(r.body.toString()).toBe('ok\n');
    expect(r.headers['x-answer']).toBe('yes');
    expect(r.headers['content-length']).toBe('3');
    expect(r.headers['keep-alive']).not.toBe('timeout=60');
    const last = seen.at(-1)!;
    expect(last.custom).toBe('v1');
    expect(last.te).toBeUndefined();
    expect(last.host).toBe(`127.0.0.1:${leanPort}`);
  });

  test('a body larger than one read arrives whole; a HEAD answer has no body', async () => {
    const big = await get('/big');
    expect(big.status).toBe(200);
    expect(big.body.length).toBe(200_000);
    expect(big.body.every((b) => b === 7)).toBe(true);
    const head = await get('/head', { method: 'HEAD' });
    expect(head.status).toBe(201);
    expect(head.body.length).toBe(0);
    // The upstream connection is still good for the next request.
    expect((await get('/after')).body.toString()).toBe('ok\n');
  });

  test('what it does not read (a chunked answer, a request body) is a 502, and a chunked answer costs its connection', async () => {
    const before = upstreamConnections.length;
    expect((await get('/chunked')).status).toBe(502);
    expect((await get('/with-body', { method: 'POST', body: 'x' })).status).toBe(502);
    expect(seen.at(-1)!.url).toBe('/chunked');
    const after = await get('/after-chunked');
    expect(after.status).toBe(201);
    expect(upstreamConnections.length - before).toBe(1);
  });
});
