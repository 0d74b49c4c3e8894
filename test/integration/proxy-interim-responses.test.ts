import { once } from 'node:events';
import net, { type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { rawExchange, startProxy, startUpstream, type Proxied, type Upstream } from './proxy-harness.js';

let proxied: Proxied | undefined;
let upstream: Upstream | undefined;
let scripted: ScriptedUpstream | undefined;

afterEach(async () => {
  await proxied?.close();
  await upstream?.close();
  scripted?.close();
  proxied = undefined;
  upstream = undefined;
  scripted = undefined;
});

interface ScriptedUpstream {
  url: string;
  /** Requests received (one per request head). */
  requests: number;
  close(): void;
}

/** A TCP upstream that answers each request head by running `script` on the socket. */
async function startScriptedUpstream(script: (socket: Socket) => void | Promise<void>): Promise<ScriptedUpstream> {
  const sockets = new Set<Socket>();
  const state: ScriptedUpstream = { url: '', requests: 0, close: () => undefined };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let buf = '';
    socket.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      while (buf.includes('\r\n\r\n')) {
        buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
        state.requests++;
        void script(socket);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => {
    for (const s of sockets) s.destroy();
    server.close();
  };
  return state;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const GET = 'GET /r HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

describe('proxy: interim (1xx) responses (RFC 9110 §15.2)', () => {
  it('100 Continue before a 200: the client gets the 200, the upstream sees the GET once', async () => {
    scripted = await startScriptedUpstream((s) => {
      s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal');
    });
    proxied = await startProxy(scripted.url);
    const reply = await rawExchange(proxied.port, GET);
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(reply.endsWith('\r\n\r\nfinal')).toBe(true);
    expect(scripted.requests).toBe(1);
    expect(proxied.records.at(-1)).toMatchObject({ status: 200, retried: false });
  });

  it('100 heads split across reads, and two of them, still end in the final response', async () => {
    scripted = await startScriptedUpstream(async (s) => {
      s.write('HTTP/1.1 10');
      await sleep(30);
      s.write('0 Continue\r\nX-A: 1\r\n\r\nHTTP/1.1 100 Continue\r\n\r');
      await sleep(30);
      s.write('\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok');
    });
    proxied = await startProxy(scripted.url);
    const reply = await rawExchange(proxied.port, GET);
    expect(reply).toMatch(/^HTTP\/1\.1 201 Created\r\n/);
    expect(reply.endsWith('\r\n\r\nok')).toBe(true);
    expect(scripted.requests).toBe(1);
  });

  it('a keep-alive connection reused after a 100 still filters the next response only at its start', async () => {
    scripted = await startScriptedUpstream((s) => {
      s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\nHTTP/1.1 100 abc');
    });
    proxied = await startProxy(scripted.url);
    for (let i = 0; i < 2; i++) {
      const reply = await rawExchange(proxied.port, GET);
      expect(reply.endsWith('\r\n\r\nHTTP/1.1 100 abc')).toBe(true); // a body that looks like a 100 is body
    }
    expect(proxied.records.map((r) => r.connection)).toEqual(['plain', 'reused']);
  });

  it('Expect: 100-continue: the client gets one 100 (from the proxy), then the final answer of the upstream', async () => {
    let sawExpect: string | undefined = 'unset';
    upstream = await startUpstream((req, res) => {
      sawExpect = req.headers.expect;
      res.writeContinue(); // unsolicited: the proxy does not forward Expect
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.end(`got ${body}`));
    });
    proxied = await startProxy(upstream.url);
    const socket = net.connect(proxied.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('POST /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    let reply = '';
    socket.on('data', (c: Buffer) => {
      reply += c.toString('latin1');
      if (reply === 'HTTP/1.1 100 Continue\r\n\r\n') socket.write('hello');
    });
    await once(socket, 'close');
    expect(reply).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(reply.match(/ 100 Continue/g)).toHaveLength(1);
    expect(reply.endsWith('got hello')).toBe(true);
    expect(sawExpect).toBeUndefined();
  });

  it('a connection lost after a 100 is not replayed: 502, one request upstream', async () => {
    scripted = await startScriptedUpstream((s) => {
      s.write('HTTP/1.1 100 Continue\r\n\r\n');
      setTimeout(() => s.resetAndDestroy(), 20);
    });
    proxied = await startProxy(scripted.url);
    const reply = await rawExchange(proxied.port, GET);
    expect(reply).toMatch(/^HTTP\/1\.1 502 /);
    expect(scripted.requests).toBe(1);
    expect(proxied.records.at(-1)).toMatchObject({ status: 502, retried: false });
  });

  it('a connection lost after part of a status line is not replayed', async () => {
    scripted = await startScriptedUpstream((s) => {
      s.write('HTTP/1.1 2');
      setTimeout(() => s.resetAndDestroy(), 20);
    });
    proxied = await startProxy(scripted.url);
    const reply = await rawExchange(proxied.port, GET);
    expect(reply).toMatch(/^HTTP\/1\.1 502 /);
    expect(scripted.requests).toBe(1);
  });

  it('103 Early Hints is forwarded before the 200', async () => {
    upstream = await startUpstream((_req, res) => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
      setTimeout(() => res.end('page'), 20);
    });
    proxied = await startProxy(upstream.url);
    const reply = await rawExchange(proxied.port, GET);
    expect(reply).toMatch(/^HTTP\/1\.1 103 Early Hints\r\nLink: <\/style\.css>; rel=preload; as=style\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(reply.endsWith('page')).toBe(true);
    expect(proxied.records.at(-1)).toMatchObject({ status: 200, interim: [103] });
  });

  it('102 Processing is forwarded; an HTTP/1.0 client gets no 1xx', async () => {
    upstream = await startUpstream((_req, res) => {
      res.writeProcessing();
      res.writeEarlyHints({ link: '</a.js>; rel=preload; as=script' });
      setTimeout(() => res.end('done'), 20);
    });
    proxied = await startProxy(upstream.url);
    const v11 = await rawExchange(proxied.port, GET);
    expect(v11).toMatch(/^HTTP\/1\.1 102 Processing\r\n\r\nHTTP\/1\.1 103 Early Hints\r\n/);
    const v10 = await rawExchange(proxied.port, 'GET /r HTTP/1.0\r\nHost: x\r\n\r\n');
    expect(v10).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(v10.endsWith('done')).toBe(true);
  });
});
