// The connector with a source that answers asynchronously (acquireAsync, the
// keeper's form): a socket is used as a pooled connection, undefined falls back
// to a plain connect and is reported 'pool-empty'; a real node:http upstream.
import http from 'node:http';
import net, { type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { AcceleratedAgent, type ConnectionEvent, type FallbackEvent } from '../../src/proxy/accelerated-agent.js';
import type { ConnectionSource } from '../../src/proxy/connection-source.js';

let server: http.Server;
let origin: string;
let port: number;

beforeAll(async () => {
  server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** A source with nothing ready now (acquire): every connection is asked for asynchronously. */
function asyncSource(next: () => Promise<Socket | undefined>): ConnectionSource & { asked: Endpoint[]; readyAsks: number } {
  const asked: Endpoint[] = [];
  const source = {
    accelerated: true,
    asked,
    readyAsks: 0,
    acquire: (): Socket | undefined => {
      source.readyAsks += 1;
      return undefined;
    },
    acquireAsync(target: Endpoint, callback: (socket: Socket | undefined) => void): void {
      asked.push(target);
      void next().then(callback);
    },
  };
  return source;
}

async function connectedSocket(): Promise<Socket> {
  const s = net.connect(port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  return s;
}

async function get(agent: AcceleratedAgent): Promise<number> {
  const res = await agent.request({ origin, path: '/', method: 'GET' });
  await res.body.text();
  return res.statusCode;
}

describe('connector over acquireAsync', () => {
  it('a socket from acquireAsync carries the request as a pooled connection', async () => {
    const source = asyncSource(async () => {
      const s = net.connect(port, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      return s;
    });
    const agent = new AcceleratedAgent({ source });
    const seen: ConnectionEvent[] = [];
    agent.events.on('connection', (e) => seen.push(e));
    expect(await get(agent)).toBe(200);
    expect(seen.map((e) => e.connection)).toEqual(['pool']);
    expect(source.asked).toEqual([{ address: '127.0.0.1', port }]);
    await agent.close();
  });

  it('undefined falls back to a plain connect, reported as pool-empty', async () => {
    const source = asyncSource(async () => undefined);
    const agent = new AcceleratedAgent({ source });
    const seen: ConnectionEvent[] = [];
    const fallbacks: FallbackEvent[] = [];
    agent.events.on('connection', (e) => seen.push(e));
    agent.events.on('fallback', (e) => fallbacks.push(e));
    expect(await get(agent)).toBe(200);
    expect(seen.map((e) => e.connection)).toEqual(['plain']);
    expect(fallbacks).toEqual([{ reason: 'pool-empty', target: { address: '127.0.0.1', port } }]);
    await agent.close();
  });

  it('a socket the source has ready now carries the request in its turn, without an asynchronous ask (the lean exchange)', async () => {
    const ready = await connectedSocket();
    let asyncAsks = 0;
    const source: ConnectionSource = {
      accelerated: true,
      acquire: (t) => (t.address === '127.0.0.1' && t.port === port ? ready : undefined),
      acquireAsync: (_t, callback) => {
        asyncAsks += 1;
        process.nextTick(callback, undefined);
      },
    };
    const agent = new AcceleratedAgent({ source });
    const seen: ConnectionEvent[] = [];
    agent.events.on('connection', (e) => seen.push(e));
    expect(await get(agent)).toBe(200);
    expect(seen.map((e) => e.connection)).toEqual(['pool']);
    expect(asyncAsks).toBe(0);
    await agent.close();
  });

  it('a ready socket already destroyed is reported pooled-destroyed, and the request asks asynchronously instead', async () => {
    const dead = new net.Socket();
    dead.destroy();
    const source = asyncSource(connectedSocket);
    source.acquire = () => dead;
    const agent = new AcceleratedAgent({ source });
    const fallbacks: string[] = [];
    const seen: ConnectionEvent[] = [];
    agent.events.on('fallback', (e) => fallbacks.push(e.reason));
    agent.events.on('connection', (e) => seen.push(e));
    expect(await get(agent)).toBe(200);
    expect(fallbacks).toEqual(['pooled-destroyed']);
    expect(seen.map((e) => e.connection)).toEqual(['pool']);
    expect(source.asked).toHaveLength(1);
    await agent.close();
  });

  it('a source with only acquire() (an in-process pool) is asked once per new connection: its acquire() counts a take', async () => {
    let asks = 0;
    const source: ConnectionSource = {
      accelerated: true,
      acquire: () => {
        asks += 1;
        return undefined;
      },
    };
    const agent = new AcceleratedAgent({ source });
    const fallbacks: string[] = [];
    agent.events.on('fallback', (e) => fallbacks.push(e.reason));
    expect(await get(agent)).toBe(200);
    expect(asks).toBe(1);
    expect(fallbacks).toEqual(['pool-empty']);
    await agent.close();
  });

  it('undici’s path never takes a socket synchronously: its connector needs the asynchronous callback', async () => {
    const source = asyncSource(connectedSocket);
    const agent = new AcceleratedAgent({ source, lean: false });
    expect(await get(agent)).toBe(200);
    expect(source.readyAsks).toBe(0);
    expect(source.asked).toHaveLength(1);
    await agent.close();
  });

  it('a destroyed socket falls back as pooled-destroyed', async () => {
    const source = asyncSource(async () => {
      const s = new net.Socket();
      s.destroy();
      return s;
    });
    const agent = new AcceleratedAgent({ source });
    const fallbacks: string[] = [];
    agent.events.on('fallback', (e) => fallbacks.push(e.reason));
    expect(await get(agent)).toBe(200);
    expect(fallbacks).toEqual(['pooled-destroyed']);
    await agent.close();
  });
});
