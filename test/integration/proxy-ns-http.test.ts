// HTTP through synpool, with real clients: curl (its own process in the client
// namespace) and fetch/undici/node:http from this process, which enters the
// client namespace. synpool runs here, accelerated. Two links, 10 MB bulk
// bodies on each: the 40 ms vde delay line, and a veth pair (no delay). Upstreams
// in the server namespace: bench/upstream/http-server.mjs (its own process),
// and an echo server this process starts inside the server namespace that
// checks bodies by SHA-256, echoes them chunked and reports the headers it got.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';
import { metricValue, serveInProcess, waitUntil, type InProcessSynpool } from '../helpers/proxy-process.js';

/** The 40 ms delay line, and a veth pair where bodies move at full speed. */
const LINKS = [
  { link: 'vde', oneWayDelayMs: 20, bulk: 10 * 1024 * 1024 },
  { link: 'veth', oneWayDelayMs: 0, bulk: 10 * 1024 * 1024 },
] as const;
let BULK: number;
const POOL = { sizing: 'fixed', targetSize: 4, synRatePerSec: 50, synBurst: 10 };

let topo: Topology;
let leave: (() => void) | undefined;
let node: UpstreamServer;
let echo: http.Server;
let viaNode: InProcessSynpool;
let viaEcho: InProcessSynpool;
let bigFile: string;
let big: Buffer;

/**
 * The echo upstream (runs in this process, in the server namespace):
 * - /echo reads the whole body, then sends it back chunked (no Content-Length);
 * - /sha256 reads the body and answers its length and SHA-256;
 * - /big sends the test's 10 MB of random bytes, chunked;
 * - anything else answers the request line and headers it got.
 * Bulk bytes cross the delay line one way at a time: the vde link locks up when
 * megabytes flow both ways at once (docs/proxy-bench.md, "Limits").
 */
function echoHandler(req: IncomingMessage, res: ServerResponse): void {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let bytes = 0;
  req.on('data', (c: Buffer) => {
    bytes += c.length;
    if (req.url === '/sha256') hash.update(c);
    else chunks.push(c);
  });
  req.on('end', () => {
    if (req.url === '/echo' || req.url === '/big') {
      const body = req.url === '/big' ? big : Buffer.concat(chunks);
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'x-method': req.method ?? '',
        'x-request-te': req.headers['transfer-encoding'] ?? '',
        'x-request-cl': req.headers['content-length'] ?? '',
      });
      const pump = (offset: number): void => {
        while (offset < body.length) {
          const more = res.write(body.subarray(offset, offset + 65_536));
          offset += 65_536;
          if (!more) {
            res.once('drain', () => pump(offset));
            return;
          }
        }
        res.end();
      };
      pump(0);
      return;
    }
    if (req.url === '/sha256') {
      const body = JSON.stringify({ bytes, sha256: hash.digest('hex'), te: req.headers['transfer-encoding'] ?? null, method: req.method });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, httpVersion: req.httpVersion });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-upstream': 'echo',
      'set-cookie': ['a=1', 'b=2'],
      connection: 'keep-alive, x-upstream-hop',
      'x-upstream-hop': 'must not reach the client',
    });
    res.end(body);
  });
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** curl in the client namespace; `-w` fields come back on the last line. */
async function curl(args: readonly string[], timeoutMs = 30_000): Promise<{ body: string; info: string[] }> {
  const { stdout } = await topo.exec('client', 'curl', ['-sS', '--max-time', String(timeoutMs / 1000), ...args], { timeoutMs: timeoutMs + 2_000 });
  const cut = stdout.lastIndexOf('\n@@');
  return { body: cut < 0 ? stdout : stdout.slice(0, cut), info: cut < 0 ? [] : stdout.slice(cut + 3).trim().split(' ') };
}
const W = '\n@@%{http_code} %{size_download} %{size_upload} %{num_connects}';

/** Writes raw bytes to the proxy and reads until it closes (bounded). */
async function raw(port: number, bytes: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(bytes);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, 3_000))]);
  socket.destroy();
  return Buffer.concat(chunks).toString('latin1');
}

for (const spec of LINKS) {
  describe(`${spec.link} link, ${2 * spec.oneWayDelayMs} ms RTT, ${spec.bulk >> 20} MB bodies`, () => {
    beforeAll(async () => {
      assertIntegrationPrerequisites(['curl']);
      BULK = spec.bulk;
      topo = await createTopology({ oneWayDelayMs: spec.oneWayDelayMs, link: spec.link, prefix: 'spnh' });
      node = await startNodeUpstream(topo);
      big = randomBytes(BULK);
      bigFile = join(topo.dir, 'bulk.bin');
      writeFileSync(bigFile, big);

      const leaveForServer = enterNamespace(topo.netnsPath('server'));
      try {
        echo = http.createServer(echoHandler);
        echo.listen(0, topo.serverAddr);
        await once(echo, 'listening');
      } finally {
        leaveForServer();
      }

      leave = enterNamespace(topo.netnsPath('client'));
      viaNode = await serveInProcess({ upstream: `http://${topo.serverAddr}:${node.port}`, pool: POOL });
      viaEcho = await serveInProcess({ upstream: `http://${topo.serverAddr}:${(echo.address() as net.AddressInfo).port}`, pool: POOL });
      for (const p of [viaNode, viaEcho]) {
        await waitUntil('pool filled', async () => metricValue(await p.metrics(), 'synpool_pool_ready') >= 1, 5_000, 50);
      }
    }, 60_000);

    afterAll(async () => {
      await viaNode?.stop();
      await viaEcho?.stop();
      leave?.();
      echo?.closeAllConnections();
      echo?.close();
      await node?.stop();
      await topo?.destroy();
    });

    describe('curl', () => {
      it('GET, POST, PUT, DELETE with bodies of 0 B, 1 B and the bulk size each way', async () => {
        const u = viaNode.url;
        expect((await curl(['-w', W, `${u}/`])).info).toEqual(['200', '3', '0', '1']);
        const zero = await curl(['-w', W, `${u}/bytes/0`]);
        expect(zero.info.slice(0, 2)).toEqual(['200', '0']);
        expect((await curl(['-w', W, `${u}/bytes/1`])).body).toBe('a');
        const down = await curl(['-o', '/dev/null', '-w', W, `${u}/bytes/${BULK}`]);
        expect(down.info.slice(0, 2)).toEqual(['200', String(BULK)]);

        expect(JSON.parse((await curl(['-X', 'POST', '--data-binary', '', `${u}/upload`])).body)).toEqual({ received: 0 });
        expect(JSON.parse((await curl(['--data-binary', 'x', `${u}/upload`])).body)).toEqual({ received: 1 });
        expect(JSON.parse((await curl(['--data-binary', `@${bigFile}`, `${u}/upload`])).body)).toEqual({ received: BULK });
        expect(JSON.parse((await curl(['-X', 'PUT', '--data-binary', `@${bigFile}`, `${u}/upload`])).body)).toEqual({ received: BULK });
        expect(JSON.parse((await curl(['-X', 'PUT', '--data-binary', 'x', `${u}/upload`])).body)).toEqual({ received: 1 });
        const del = await curl(['-X', 'DELETE', '-w', W, `${u}/x`]);
        expect(del.info.slice(0, 2)).toEqual(['204', '0']);
      }, 60_000);

      it('a chunked bulk upload and a chunked bulk response arrive intact', async () => {
        const up = await curl(['-H', 'Transfer-Encoding: chunked', '--data-binary', `@${bigFile}`, `${viaEcho.url}/sha256`]);
        expect(JSON.parse(up.body)).toEqual({ bytes: BULK, sha256: sha256(big), te: 'chunked', method: 'POST' });
        const out = join(topo.dir, 'downloaded.bin');
        const down = await curl(['-D', '-', '-o', out, '-w', W, `${viaEcho.url}/big`]);
        expect(down.info.slice(0, 2)).toEqual(['200', String(BULK)]);
        expect(down.body).toMatch(/transfer-encoding: chunked/i);
        const { stdout } = await topo.exec('client', 'sha256sum', [out]);
        expect(stdout.split(' ')[0]).toBe(sha256(big));
      }, 60_000);

      it('keeps the client connection alive across requests', async () => {
        const u = viaNode.url;
        const res = await curl(['-w', '\n#%{num_connects}\n', `${u}/`, `${u}/bytes/10`, `${u}/`]);
        expect(res.body.split('\n').filter((l) => l.startsWith('#'))).toEqual(['#1', '#0', '#0']);
      });
    });

    describe('fetch, undici, node:http', () => {
      it('POST/PUT/DELETE bodies of 0 B, 1 B and 64 KB come back intact; bulk bodies arrive intact both ways', async () => {
        for (const method of ['POST', 'PUT', 'DELETE']) {
          for (const body of [Buffer.alloc(0), Buffer.from('z'), big.subarray(0, 65_536)]) {
            const res = await fetch(`${viaEcho.url}/echo`, { method, body });
            const got = Buffer.from(await res.arrayBuffer());
            expect(res.status).toBe(200);
            expect(res.headers.get('x-method')).toBe(method);
            // undici drops `Content-Length: 0` for methods without body semantics (DELETE), as RFC 9110 §8.6 advises.
            if (body.length > 0 || method !== 'DELETE') expect(res.headers.get('x-request-cl')).toBe(String(body.length));
            expect(sha256(got)).toBe(sha256(body));
          }
          const up = await fetch(`${viaEcho.url}/sha256`, { method, body: big });
          expect(await up.json()).toEqual({ bytes: BULK, sha256: sha256(big), te: null, method });
        }
        const down = await fetch(`${viaEcho.url}/big`);
        expect(sha256(Buffer.from(await down.arrayBuffer()))).toBe(sha256(big));
        const get = await fetch(`${viaNode.url}/bytes/${BULK}`);
        expect(get.headers.get('content-length')).toBe(String(BULK));
        expect((await get.arrayBuffer()).byteLength).toBe(BULK);
        const zero = await fetch(`${viaNode.url}/bytes/0`);
        expect(zero.headers.get('content-length')).toBe('0');
        expect(await zero.text()).toBe('');
      }, 60_000);

      it('streams a chunked request body (fetch ReadableStream) and a chunked response', async () => {
        const parts = Array.from({ length: 40 }, (_, i) => randomBytes(1000 + i * 997));
        const sent = Buffer.concat(parts);
        const stream = new ReadableStream<Uint8Array>({
          pull(controller) {
            const next = parts.shift();
            if (next === undefined) controller.close();
            else controller.enqueue(next);
          },
        });
        const res = await fetch(`${viaEcho.url}/echo`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
        const got = Buffer.from(await res.arrayBuffer());
        expect(res.status).toBe(200);
        expect(res.headers.get('x-request-te')).toBe('chunked');
        expect(res.headers.get('x-request-cl')).toBe('');
        expect(res.headers.get('transfer-encoding')).toBe('chunked');
        expect(sha256(got)).toBe(sha256(sent));
      });

      it('forwards end-to-end headers, adds Via and X-Forwarded-*, drops hop-by-hop ones both ways', async () => {
        // node:http, not fetch: fetch refuses to send Keep-Alive and Proxy-* itself.
        const req = http.request({
          host: '127.0.0.1',
          port: viaEcho.port,
          path: '/headers?q=1',
          agent: false,
          headers: { 'x-custom': 'kept', connection: 'x-secret', 'x-secret': 'dropped', 'proxy-authorization': 'Basic eA==', 'keep-alive': 'timeout=5' },
        });
        req.end();
        const [res] = (await once(req, 'response')) as [IncomingMessage];
        const chunks: Buffer[] = [];
        for await (const c of res) chunks.push(c as Buffer);
        const seen = JSON.parse(Buffer.concat(chunks).toString()) as { url: string; headers: Record<string, string> };
        expect(seen.url).toBe('/headers?q=1');
        expect(seen.headers['x-custom']).toBe('kept');
        expect(seen.headers['x-secret']).toBeUndefined();
        expect(seen.headers['proxy-authorization']).toBeUndefined();
        expect(seen.headers['keep-alive']).toBeUndefined();
        expect(seen.headers.via).toBe('1.1 synpool');
        expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
        expect(seen.headers['x-forwarded-proto']).toBe('http');
        expect(seen.headers['x-forwarded-host']).toBe(`127.0.0.1:${viaEcho.port}`);
        expect(seen.headers.host).toBe(`${topo.serverAddr}:${(echo.address() as net.AddressInfo).port}`);

        expect(res.headers['x-upstream']).toBe('echo');
        expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
        expect(res.headers['x-upstream-hop']).toBeUndefined();
        expect(res.headers.via).toBe('1.1 synpool');

        // The same through fetch, which sends only what it allows.
        const viaFetch = await fetch(`${viaEcho.url}/headers`, { headers: { 'x-custom': 'kept' } });
        expect(((await viaFetch.json()) as { headers: Record<string, string> }).headers['x-custom']).toBe('kept');
        expect(viaFetch.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
      });

      it('node:http keep-alive client: one connection carries every request', async () => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        try {
          const reused: boolean[] = [];
          for (let i = 0; i < 5; i++) {
            const req = http.request({ host: '127.0.0.1', port: viaNode.port, path: '/', agent });
            req.end();
            const [res] = (await once(req, 'response')) as [IncomingMessage];
            res.resume();
            await once(res, 'end');
            expect(res.statusCode).toBe(200);
            expect(res.headers.connection).toBe('keep-alive');
            reused.push(req.reusedSocket);
          }
          expect(reused).toEqual([false, true, true, true, true]);
        } finally {
          agent.destroy();
        }
      });

      it('undici Pool, 8 concurrent keep-alive connections, 200 requests: all 200, every connection source logged', async () => {
        const client = new Pool(viaNode.url, { connections: 8 });
        try {
          const before = viaNode.log.requests().length;
          const statuses = await Promise.all(
            Array.from({ length: 200 }, async () => {
              const res = await client.request({ method: 'GET', path: '/bytes/1000' });
              const text = await res.body.text();
              return text.length === 1000 ? res.statusCode : -1;
            }),
          );
          expect(new Set(statuses)).toEqual(new Set([200]));
          const lines = viaNode.log.requests().slice(before);
          expect(lines).toHaveLength(200);
          for (const l of lines) expect(['reused', 'pool', 'plain']).toContain(l.connection);
          // New upstream connections came from the pool while it had entries.
          expect(lines.filter((l) => l.connection === 'pool').length).toBeGreaterThanOrEqual(1);
        } finally {
          await client.close();
        }
      });
    });

    describe('malformed requests', () => {
      it.each([
        ['a bad request line', 'GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n'],
        ['a garbage request line', '\x01\x02 nonsense\r\n\r\n'],
        ['a header without a colon', 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'],
        ['a space in a header name', 'GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n'],
        ['a bad Content-Length', 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'],
      ])('%s → 400, connection closed, and the proxy keeps serving', async (_what, bytes) => {
        const before = metricValue(await viaNode.metrics(), 'synpool_client_errors_total');
        const answer = await raw(viaNode.port, bytes);
        expect(answer).toMatch(/^HTTP\/1\.1 400 /);
        expect(answer).toMatch(/connection: close/i);
        expect(metricValue(await viaNode.metrics(), 'synpool_client_errors_total')).toBe(before + 1);
        const ok = await fetch(`${viaNode.url}/`);
        expect(ok.status).toBe(200);
        expect(await ok.text()).toBe('ok\n');
      });

      it('a request without Host → 400', async () => {
        expect(await raw(viaNode.port, 'GET / HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
        expect((await fetch(`${viaNode.url}/`)).status).toBe(200);
      });

      it.each([
        ['asterisk form (OPTIONS *)', 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n'],
        ['authority form (CONNECT host:port)', 'CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\n'],
      ])('request target in %s → 400 bad request target, and the proxy keeps serving', async (_what, bytes) => {
        const answer = await raw(viaNode.port, bytes);
        expect(answer).toMatch(/^HTTP\/1\.1 400 /);
        expect(answer).toContain('bad request target');
        expect((await fetch(`${viaNode.url}/`)).status).toBe(200);
      });
    });
  });
}
